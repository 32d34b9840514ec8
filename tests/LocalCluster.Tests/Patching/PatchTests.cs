using System.Net;
using k8s;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Patching;

/// <summary>PATCH with JSON merge, JSON patch and strategic merge patch through the client.</summary>
public sealed class PatchTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public PatchTests(ClusterFixture f) => _f = f;

    private static V1Pod Pod(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = "x" } },
        Spec = new V1PodSpec
        {
            Containers =
            [
                new V1Container { Name = "main", Image = "example/main:1", Env = [new V1EnvVar { Name = "A", Value = "1" }, new V1EnvVar { Name = "B", Value = "2" }] },
                new V1Container { Name = "sidecar", Image = "example/sidecar:1" },
            ],
        },
    };

    [Fact]
    public async Task Merge_patch_merges_objects_and_null_deletes()
    {
        var ns = await _f.NamespaceAsync("p");
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "m" }, Data = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" } }, ns);
        var patched = await _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"a":null,"c":"3"}}""", V1Patch.PatchType.MergePatch), "m", ns);
        Assert.Equal(new Dictionary<string, string> { ["b"] = "2", ["c"] = "3" }, patched.Data);
    }

    [Fact]
    public async Task Json_patch_applies_operations_in_order_and_a_failed_test_op_changes_nothing()
    {
        var ns = await _f.NamespaceAsync("p");
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "j" }, Data = new Dictionary<string, string> { ["a"] = "1" } }, ns);
        var patched = await _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            """[{"op":"test","path":"/data/a","value":"1"},{"op":"add","path":"/data/b","value":"2"},{"op":"move","from":"/data/a","path":"/data/c"}]""",
            V1Patch.PatchType.JsonPatch), "j", ns);
        Assert.Equal(new Dictionary<string, string> { ["b"] = "2", ["c"] = "1" }, patched.Data);
        await Errors.StatusAsync(() => _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(
            """[{"op":"add","path":"/data/d","value":"4"},{"op":"test","path":"/data/b","value":"nope"}]""", V1Patch.PatchType.JsonPatch), "j", ns),
            (HttpStatusCode)422, "Invalid");
        var after = await _f.Client.CoreV1.ReadNamespacedConfigMapAsync("j", ns);
        Assert.False(after.Data.ContainsKey("d"));
    }

    [Fact]
    public async Task Strategic_merge_patch_merges_containers_and_env_by_name()
    {
        var ns = await _f.NamespaceAsync("p");
        await _f.Client.CoreV1.CreateNamespacedPodAsync(Pod("smp"), ns);
        var patch = """{"spec":{"containers":[{"name":"main","image":"example/main:2","env":[{"name":"B","value":"20"},{"name":"C","value":"3"}]}]}}""";
        var patched = await _f.Client.CoreV1.PatchNamespacedPodAsync(new V1Patch(patch, V1Patch.PatchType.StrategicMergePatch), "smp", ns);
        Assert.Equal(["main", "sidecar"], patched.Spec.Containers.Select(c => c.Name));
        var main = patched.Spec.Containers[0];
        Assert.Equal("example/main:2", main.Image);
        Assert.Equal([("A", "1"), ("B", "20"), ("C", "3")], main.Env.Select(e => (e.Name, e.Value)));

        var delete = """{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}""";
        var deleted = await _f.Client.CoreV1.PatchNamespacedPodAsync(new V1Patch(delete, V1Patch.PatchType.StrategicMergePatch), "smp", ns);
        Assert.Equal(["main"], deleted.Spec.Containers.Select(c => c.Name));
    }

    [Fact]
    public async Task Strategic_merge_patch_on_a_custom_resource_is_415()
    {
        await Widgets.InstallAsync(_f.Client);
        var ns = await _f.NamespaceAsync("p");
        await _f.Client.CustomObjects.CreateNamespacedCustomObjectAsync(Widgets.New("w"), Widgets.Group, Widgets.Version, ns, Widgets.Plural);
        await Errors.StatusAsync(() => _f.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"spec":{"replicas":2}}""", V1Patch.PatchType.StrategicMergePatch), Widgets.Group, Widgets.Version, ns, Widgets.Plural, "w"),
            HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType");
    }

    [Fact]
    public async Task Scale_subresource_reads_and_writes_replicas_of_deployments_and_custom_resources()
    {
        var ns = await _f.NamespaceAsync("p");
        await _f.Client.AppsV1.CreateNamespacedDeploymentAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = "d" },
            Spec = new V1DeploymentSpec
            {
                Replicas = 2,
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "d" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "d" } },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "example/c:1" }] },
                },
            },
        }, ns);
        var scale = await _f.Client.AppsV1.ReadNamespacedDeploymentScaleAsync("d", ns);
        Assert.Equal((2, "app=d"), (scale.Spec.Replicas ?? 0, scale.Status.Selector));
        await _f.Client.AppsV1.PatchNamespacedDeploymentScaleAsync(new V1Patch("""{"spec":{"replicas":5}}""", V1Patch.PatchType.MergePatch), "d", ns);
        var deployment = await _f.Client.AppsV1.ReadNamespacedDeploymentAsync("d", ns);
        Assert.Equal((5, 2L), (deployment.Spec.Replicas ?? 0, deployment.Metadata.Generation ?? 0));

        await Widgets.InstallAsync(_f.Client);
        await _f.Client.CustomObjects.CreateNamespacedCustomObjectAsync(Widgets.New("sw", replicas: 1), Widgets.Group, Widgets.Version, ns, Widgets.Plural);
        await _f.Client.CustomObjects.PatchNamespacedCustomObjectScaleAsync(new V1Patch("""{"spec":{"replicas":3}}""", V1Patch.PatchType.MergePatch), Widgets.Group, Widgets.Version, ns, Widgets.Plural, "sw");
        var (_, widget) = await _f.SendAsync(HttpMethod.Get, $"/apis/example.com/v1/namespaces/{ns}/widgets/sw");
        Assert.Equal(3, widget!["spec"]!["replicas"]!.GetValue<int>());
        await Errors.StatusAsync(() => _f.Client.AppsV1.PatchNamespacedDeploymentScaleAsync(new V1Patch("""{"spec":{"replicas":-1}}""", V1Patch.PatchType.MergePatch), "d", ns),
            (HttpStatusCode)422, "Invalid");
    }

    [Fact]
    public async Task A_patch_carrying_a_stale_resourceVersion_is_409()
    {
        var ns = await _f.NamespaceAsync("p");
        var cm = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "rv" } }, ns);
        await _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"a":"1"}}""", V1Patch.PatchType.MergePatch), "rv", ns);
        var stale = "{\"metadata\":{\"resourceVersion\":\"" + cm.Metadata.ResourceVersion + "\"},\"data\":{\"a\":\"2\"}}";
        await Errors.StatusAsync(() => _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(stale, V1Patch.PatchType.MergePatch), "rv", ns), HttpStatusCode.Conflict, "Conflict");
    }
}
