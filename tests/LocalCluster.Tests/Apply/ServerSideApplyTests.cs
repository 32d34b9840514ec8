using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Apply;

/// <summary>Server-side apply: create, field ownership, conflicts as 409, force, removal of fields no longer applied.</summary>
public sealed class ServerSideApplyTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public ServerSideApplyTests(ClusterFixture f) => _f = f;

    private Task<V1ConfigMap> ApplyAsync(string ns, string yaml, string manager, bool force = false) =>
        _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(yaml, V1Patch.PatchType.ApplyPatch), "cfg", ns, fieldManager: manager, force: force);

    /// <summary>An apply configuration as JSON (valid YAML), the form KubernetesClient sends.</summary>
    private static string Cfg(params (string Key, string Value)[] data) =>
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"},\"data\":{" +
        string.Join(",", data.Select(d => $"\"{d.Key}\":\"{d.Value}\"")) + "}}";

    [Fact]
    public async Task Apply_creates_and_records_the_manager_in_managedFields()
    {
        var ns = await _f.NamespaceAsync("ssa");
        var created = await ApplyAsync(ns, Cfg(("a", "1")), "alice");
        Assert.Equal("1", created.Data["a"]);
        var entry = Assert.Single(created.Metadata.ManagedFields);
        Assert.Equal("alice", entry.Manager);
        Assert.Equal("Apply", entry.Operation);
        Assert.Contains("f:a", JsonSerializer.Serialize(entry.FieldsV1));
    }

    [Fact]
    public async Task Applying_a_field_owned_by_another_manager_with_another_value_is_409_and_force_takes_it()
    {
        var ns = await _f.NamespaceAsync("ssa");
        await ApplyAsync(ns, Cfg(("a", "1")), "alice");
        var conflict = await Errors.StatusAsync(() => ApplyAsync(ns, Cfg(("a", "2")), "bob"), HttpStatusCode.Conflict, "Conflict");
        Assert.Contains("conflict with \"alice\"", conflict["message"]!.GetValue<string>());
        Assert.Equal(".data.a", conflict["details"]!["causes"]![0]!["field"]!.GetValue<string>());

        // Same value: shared ownership, no conflict.
        await ApplyAsync(ns, Cfg(("a", "1")), "carol");

        var forced = await ApplyAsync(ns, Cfg(("a", "2")), "bob", force: true);
        Assert.Equal("2", forced.Data["a"]);
        Assert.DoesNotContain(forced.Metadata.ManagedFields, m => m.Manager == "alice");
    }

    [Fact]
    public async Task Fields_an_applier_stops_applying_are_removed_unless_someone_else_owns_them()
    {
        var ns = await _f.NamespaceAsync("ssa");
        await ApplyAsync(ns, Cfg(("a", "1"), ("b", "2")), "alice");
        await _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"c":"3"}}""", V1Patch.PatchType.MergePatch), "cfg", ns, fieldManager: "editor");
        var after = await ApplyAsync(ns, Cfg(("a", "1")), "alice");
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["c"] = "3" }, after.Data);
    }

    private static string TwoContainerDeployment(string container, string image) =>
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"shared\"}," +
        "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"s\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"s\"}}," +
        "\"spec\":{\"containers\":[{\"name\":\"" + container + "\",\"image\":\"" + image + "\"}]}}}}";

    [Fact]
    public async Task Built_in_keyed_lists_are_owned_item_by_item()
    {
        var ns = await _f.NamespaceAsync("ssa");
        V1Patch Apply(string container, string image) => new(TwoContainerDeployment(container, image), V1Patch.PatchType.ApplyPatch);
        await _f.Client.AppsV1.PatchNamespacedDeploymentAsync(Apply("app", "example/app:1"), "shared", ns, fieldManager: "operator");
        var both = await _f.Client.AppsV1.PatchNamespacedDeploymentAsync(Apply("mesh", "example/proxy:1"), "shared", ns, fieldManager: "injector");
        Assert.Equal(["app", "mesh"], both.Spec.Template.Spec.Containers.Select(c => c.Name));
        var injected = JsonSerializer.SerializeToNode(both.Metadata.ManagedFields.Single(m => m.Manager == "injector").FieldsV1)!;
        Assert.True(injected["f:spec"]!["f:template"]!["f:spec"]!["f:containers"]!.AsObject().ContainsKey("k:{\"name\":\"mesh\"}"), injected.ToJsonString());

        var conflict = await Errors.StatusAsync(() => _f.Client.AppsV1.PatchNamespacedDeploymentAsync(Apply("app", "example/app:2"), "shared", ns, fieldManager: "injector"),
            HttpStatusCode.Conflict, "Conflict");
        Assert.Contains(".spec.template.spec.containers[name=\"app\"].image", conflict["message"]!.GetValue<string>());

        // The operator stops applying its container: only that item goes, the injector's stays.
        var sidecarOnly = """
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"shared"},
             "spec":{"selector":{"matchLabels":{"app":"s"}},"template":{"metadata":{"labels":{"app":"s"}}}}}
            """;
        var after = await _f.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(sidecarOnly, V1Patch.PatchType.ApplyPatch), "shared", ns, fieldManager: "operator");
        Assert.Equal(["mesh"], after.Spec.Template.Spec.Containers.Select(c => c.Name));
    }

    [Fact]
    public async Task Apply_without_fieldManager_is_400()
    {
        var ns = await _f.NamespaceAsync("ssa");
        var (code, status) = await _f.SendAsync(HttpMethod.Patch, $"/api/v1/namespaces/{ns}/configmaps/cfg",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n", "application/apply-patch+yaml");
        Assert.Equal(400, code);
        Assert.Contains("fieldManager: Required value", status!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Apply_to_the_status_subresource_changes_only_status()
    {
        await Widgets.InstallAsync(_f.Client);
        var ns = await _f.NamespaceAsync("ssa");
        await _f.Client.CustomObjects.CreateNamespacedCustomObjectAsync(Widgets.New("s"), Widgets.Group, Widgets.Version, ns, Widgets.Plural);
        var yaml = """{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"s"},"spec":{"size":"large"},"status":{"observedGeneration":1}}""";
        var result = await _f.Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch(yaml, V1Patch.PatchType.ApplyPatch),
            Widgets.Group, Widgets.Version, ns, Widgets.Plural, "s", fieldManager: "operator", force: true);
        var obj = JsonSerializer.SerializeToNode(result)!.AsObject();
        Assert.Equal(1, obj["status"]!["observedGeneration"]!.GetValue<int>());
        Assert.Equal("small", obj["spec"]!["size"]!.GetValue<string>());
        var entry = obj["metadata"]!["managedFields"]!.AsArray().Single(m => m!["manager"]!.GetValue<string>() == "operator")!;
        Assert.Equal("status", entry["subresource"]!.GetValue<string>());
    }
}
