using k8s;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Api;

/// <summary>Discovery, OpenAPI v3 and tables for built-ins, as kubectl reads them.</summary>
public sealed class DiscoveryTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public DiscoveryTests(ClusterFixture f) => _f = f;

    [Fact]
    public async Task Discovery_lists_the_core_version_groups_and_resources_with_verbs_and_short_names()
    {
        var (_, api) = await _f.SendAsync(HttpMethod.Get, "/api");
        Assert.Equal(["v1"], api!["versions"]!.AsArray().Select(v => v!.GetValue<string>()));
        var (_, groups) = await _f.SendAsync(HttpMethod.Get, "/apis");
        var names = groups!["groups"]!.AsArray().Select(g => g!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["apps", "coordination.k8s.io", "apiextensions.k8s.io", "events.k8s.io"], names);
        var (_, core) = await _f.SendAsync(HttpMethod.Get, "/api/v1");
        var pods = core!["resources"]!.AsArray().Single(r => r!["name"]!.GetValue<string>() == "pods")!;
        Assert.Equal("Pod", pods["kind"]!.GetValue<string>());
        Assert.True(pods["namespaced"]!.GetValue<bool>());
        Assert.Contains("watch", pods["verbs"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal(["po"], pods["shortNames"]!.AsArray().Select(v => v!.GetValue<string>()));
        var (missing, status) = await _f.SendAsync(HttpMethod.Get, "/apis/nope.example.com/v1");
        Assert.Equal(404, missing);
        Assert.Equal("NotFound", status!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task OpenApi_v3_advertises_fieldValidation_on_patch_for_every_kind()
    {
        var (_, index) = await _f.SendAsync(HttpMethod.Get, "/openapi/v3");
        var url = index!["paths"]!["apis/apps/v1"]!["serverRelativeURL"]!.GetValue<string>();
        var (code, doc) = await _f.SendAsync(HttpMethod.Get, url);
        Assert.Equal(200, code);
        var patch = doc!["paths"]!["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]!["patch"]!;
        Assert.Equal("Deployment", patch["x-kubernetes-group-version-kind"]!["kind"]!.GetValue<string>());
        Assert.Contains("fieldValidation", patch["parameters"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Built_in_tables_carry_the_usual_columns()
    {
        var (_, table) = await _f.SendAsync(HttpMethod.Get, "/api/v1/namespaces", accept: "application/json;as=Table;v=v1;g=meta.k8s.io");
        Assert.Equal(["Name", "Status", "Age"], table!["columnDefinitions"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
        Assert.Contains(table["rows"]!.AsArray(), r => r!["cells"]![0]!.GetValue<string>() == "default" && r["cells"]![1]!.GetValue<string>() == "Active");
    }

    [Fact]
    public async Task Unknown_paths_and_methods_are_Status_errors_not_crashes()
    {
        var (notFound, _) = await _f.SendAsync(HttpMethod.Get, "/api/v1/widgets");
        Assert.Equal(404, notFound);
        var (notAllowed, status) = await _f.SendAsync(HttpMethod.Post, "/api/v1/pods", "{}");
        Assert.Equal(405, notAllowed);
        Assert.Equal("MethodNotAllowed", status!["reason"]!.GetValue<string>());
        var (badJson, bad) = await _f.SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", "{not json");
        Assert.Equal(400, badJson);
        Assert.Equal("BadRequest", bad!["reason"]!.GetValue<string>());
        var (wrongType, unsupported) = await _f.SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", "x", "text/csv");
        Assert.Equal(415, wrongType);
        Assert.Equal("UnsupportedMediaType", unsupported!["reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"metadata":"x"}""", "cannot unmarshal string into Go struct field metadata of type v1.ObjectMeta")]
    [InlineData("""{"metadata":{"name":5}}""", "cannot unmarshal number into Go struct field metadata.name of type string")]
    [InlineData("""{"metadata":{"name":"a","labels":{"x":1}}}""", "cannot unmarshal number into Go struct field metadata.labels.x of type string")]
    [InlineData("""{"metadata":{"name":"a","finalizers":"f"}}""", "cannot unmarshal string into Go struct field metadata.finalizers of type []string")]
    [InlineData("""{"metadata":{"name":"a","ownerReferences":[{"kind":"X","name":"o","uid":"u"}]}}""", "metadata.ownerReferences[0].apiVersion: Required value")]
    [InlineData("""{"kind":7,"metadata":{"name":"a"}}""", "cannot unmarshal number into Go struct field kind of type string")]
    public async Task Wrongly_typed_metadata_is_400_naming_the_field(string body, string message)
    {
        var (code, status) = await _f.SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", body);
        Assert.Equal(400, code);
        Assert.Equal("BadRequest", status!["reason"]!.GetValue<string>());
        Assert.Contains(message, status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Wrongly_typed_delete_options_are_400_not_500()
    {
        await _f.SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"del-typed"}}""");
        var (code, status) = await _f.SendAsync(HttpMethod.Delete, "/api/v1/namespaces/default/configmaps/del-typed", """{"propagationPolicy":5}""");
        Assert.Equal(400, code);
        Assert.Equal("BadRequest", status!["reason"]!.GetValue<string>());
        var (bad, policy) = await _f.SendAsync(HttpMethod.Delete, "/api/v1/namespaces/default/configmaps/del-typed", """{"propagationPolicy":"Sometimes"}""");
        Assert.Equal(400, bad);
        Assert.Contains("Unsupported value: \"Sometimes\"", policy!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Events_written_as_events_k8s_io_read_back_as_core_events_and_back()
    {
        var ns = await _f.NamespaceAsync("ev");
        var body = $$"""
            {"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e1"},"eventTime":"2026-01-01T00:00:00.000000Z",
             "reportingController":"test","reportingInstance":"t1","action":"Testing","reason":"Tested","type":"Normal","note":"hello",
             "regarding":{"kind":"ConfigMap","name":"x","namespace":"{{ns}}"} }
            """;
        var (code, created) = await _f.SendAsync(HttpMethod.Post, $"/apis/events.k8s.io/v1/namespaces/{ns}/events", body);
        Assert.Equal(201, code);
        Assert.Equal("hello", created!["note"]!.GetValue<string>());
        var core = await _f.Client.CoreV1.ReadNamespacedEventAsync("e1", ns);
        Assert.Equal("hello", core.Message);
        Assert.Equal("x", core.InvolvedObject.Name);
        var selected = await _f.Client.CoreV1.ListNamespacedEventAsync(ns, fieldSelector: "involvedObject.name=x,reason=Tested");
        Assert.Single(selected.Items);
        var (_, v1List) = await _f.SendAsync(HttpMethod.Get, $"/apis/events.k8s.io/v1/namespaces/{ns}/events?fieldSelector=regarding.name%3Dx");
        Assert.Equal("x", v1List!["items"]![0]!["regarding"]!["name"]!.GetValue<string>());
    }
}
