using System.Net;
using k8s;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Api;

/// <summary>list: label selectors with every operator, field selectors, limit/continue.</summary>
public sealed class ListTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public ListTests(ClusterFixture f) => _f = f;

    private async Task<string> SeedAsync()
    {
        var ns = await _f.NamespaceAsync("sel");
        var objects = new (string Name, Dictionary<string, string> Labels)[]
        {
            ("web-prod", new() { ["app"] = "web", ["env"] = "prod" }),
            ("web-dev", new() { ["app"] = "web", ["env"] = "dev" }),
            ("db-prod", new() { ["app"] = "db", ["env"] = "prod", ["tier"] = "data" }),
            ("plain", new()),
        };
        foreach (var (name, labels) in objects)
        {
            await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = name, Labels = labels } }, ns);
        }
        return ns;
    }

    public static TheoryData<string, string[]> Selectors => new()
    {
        { "app=web", ["web-dev", "web-prod"] },
        { "app==web", ["web-dev", "web-prod"] },
        { "app!=web", ["db-prod", "plain"] },
        { "env in (prod,staging)", ["db-prod", "web-prod"] },
        { "env notin (prod)", ["plain", "web-dev"] },
        { "tier", ["db-prod"] },
        { "!tier", ["plain", "web-dev", "web-prod"] },
        { "app=web,env=prod", ["web-prod"] },
        { "app in (web, db), !tier", ["web-dev", "web-prod"] },
    };

    [Theory]
    [MemberData(nameof(Selectors))]
    public async Task LabelSelector_supports_every_operator(string selector, string[] expected)
    {
        var ns = await SeedAsync();
        var list = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, labelSelector: selector);
        Assert.Equal(expected, list.Items.Select(i => i.Metadata.Name).Order().ToArray());
    }

    [Fact]
    public async Task A_malformed_labelSelector_is_400_BadRequest()
    {
        var ns = await SeedAsync();
        var status = await Errors.StatusAsync(() => _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, labelSelector: "app in web"), HttpStatusCode.BadRequest, "BadRequest");
        Assert.Contains("labelSelector", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task FieldSelector_matches_metadata_name_and_namespace_and_rejects_unknown_labels()
    {
        var ns = await SeedAsync();
        var byName = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: "metadata.name=plain");
        Assert.Equal(["plain"], byName.Items.Select(i => i.Metadata.Name));
        var notName = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: "metadata.name!=plain");
        Assert.Equal(3, notName.Items.Count);
        var everywhere = await _f.Client.CoreV1.ListConfigMapForAllNamespacesAsync(fieldSelector: $"metadata.namespace={ns}");
        Assert.Equal(4, everywhere.Items.Count);
        var status = await Errors.StatusAsync(() => _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, fieldSelector: "data.k=1"), HttpStatusCode.BadRequest, "BadRequest");
        Assert.Equal("field label not supported: data.k", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Limit_and_continue_page_through_one_consistent_snapshot()
    {
        var ns = await SeedAsync();
        var first = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, limit: 3);
        Assert.Equal(3, first.Items.Count);
        Assert.False(string.IsNullOrEmpty(first.Metadata.ContinueProperty));
        Assert.Equal(1, first.Metadata.RemainingItemCount);

        // A change after the first page is not visible in later pages of the same list.
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "zzz-late" } }, ns);
        var second = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, limit: 3, continueParameter: first.Metadata.ContinueProperty);
        Assert.Single(second.Items);
        Assert.True(string.IsNullOrEmpty(second.Metadata.ContinueProperty));
        Assert.Equal(first.Metadata.ResourceVersion, second.Metadata.ResourceVersion);
        var all = first.Items.Concat(second.Items).Select(i => i.Metadata.Name).ToList();
        Assert.Equal(["db-prod", "plain", "web-dev", "web-prod"], all);
    }

    [Fact]
    public async Task A_continue_token_from_compacted_history_is_410_Expired()
    {
        var ns = await SeedAsync();
        var first = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, limit: 1);
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "later" } }, ns);
        _f.Cluster.Faults.ExpireHistory();
        await Errors.StatusAsync(() => _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns, limit: 1, continueParameter: first.Metadata.ContinueProperty), HttpStatusCode.Gone, "Expired");
    }
}
