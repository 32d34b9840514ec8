using System.Net;
using k8s;
using k8s.Models;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Storage;

/// <summary>Object metadata semantics through the real KubernetesClient over HTTPS.</summary>
public sealed class ObjectSemanticsTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public ObjectSemanticsTests(ClusterFixture f) => _f = f;

    private static V1ConfigMap ConfigMap(string name, Dictionary<string, string>? labels = null, string value = "1") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = labels },
        Data = new Dictionary<string, string> { ["k"] = value },
    };

    [Fact]
    public async Task Https_client_verifies_the_generated_CA_and_a_client_without_it_is_refused()
    {
        var namespaces = await _f.Client.CoreV1.ListNamespaceAsync();
        Assert.Contains(namespaces.Items, n => n.Metadata.Name == "default");

        using var untrusting = new HttpClient { BaseAddress = _f.Cluster.Url };
        await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync("/api"));
    }

    [Fact]
    public async Task Create_assigns_uid_creationTimestamp_and_a_monotonic_resourceVersion()
    {
        var ns = await _f.NamespaceAsync();
        var a = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("a"), ns);
        var b = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("b"), ns);
        Assert.True(Guid.TryParse(a.Metadata.Uid, out _));
        Assert.NotEqual(a.Metadata.Uid, b.Metadata.Uid);
        Assert.NotNull(a.Metadata.CreationTimestamp);
        Assert.True((DateTime.UtcNow - a.Metadata.CreationTimestamp!.Value.ToUniversalTime()).Duration() < TimeSpan.FromMinutes(1));
        Assert.True(long.Parse(b.Metadata.ResourceVersion) > long.Parse(a.Metadata.ResourceVersion));
    }

    [Fact]
    public async Task GenerateName_produces_a_unique_name_with_the_prefix()
    {
        var ns = await _f.NamespaceAsync();
        var cm = new V1ConfigMap { Metadata = new V1ObjectMeta { GenerateName = "gen-" } };
        var a = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(cm, ns);
        var b = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(cm, ns);
        Assert.StartsWith("gen-", a.Metadata.Name);
        Assert.Equal("gen-".Length + 5, a.Metadata.Name.Length);
        Assert.NotEqual(a.Metadata.Name, b.Metadata.Name);
    }

    [Fact]
    public async Task Update_with_a_stale_resourceVersion_is_409_Conflict()
    {
        var ns = await _f.NamespaceAsync();
        var created = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("c"), ns);
        created.Data["k"] = "2";
        await _f.Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "c", ns);
        created.Data["k"] = "3";
        var status = await Errors.StatusAsync(() => _f.Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "c", ns), HttpStatusCode.Conflict, "Conflict");
        Assert.Contains("the object has been modified", status["message"]!.GetValue<string>());
        Assert.Equal("c", status["details"]!["name"]!.GetValue<string>());
        Assert.Equal("configmaps", status["details"]!["kind"]!.GetValue<string>());
        var current = await _f.Client.CoreV1.ReadNamespacedConfigMapAsync("c", ns);
        Assert.Equal("2", current.Data["k"]);
    }

    [Fact]
    public async Task An_update_that_changes_nothing_keeps_the_resourceVersion()
    {
        var ns = await _f.NamespaceAsync();
        var created = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("same"), ns);
        var replaced = await _f.Client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "same", ns);
        Assert.Equal(created.Metadata.ResourceVersion, replaced.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Errors_are_metav1_Status_with_reason_and_details()
    {
        var ns = await _f.NamespaceAsync();
        var missing = await Errors.StatusAsync(() => _f.Client.CoreV1.ReadNamespacedConfigMapAsync("nope", ns), HttpStatusCode.NotFound, "NotFound");
        Assert.Equal("configmaps \"nope\" not found", missing["message"]!.GetValue<string>());
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("dup"), ns);
        var dup = await Errors.StatusAsync(() => _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("dup"), ns), HttpStatusCode.Conflict, "AlreadyExists");
        Assert.Equal("dup", dup["details"]!["name"]!.GetValue<string>());
        var invalid = await Errors.StatusAsync(() => _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("Bad_Name"), ns), (HttpStatusCode)422, "Invalid");
        Assert.Equal("metadata.name", invalid["details"]!["causes"]![0]!["field"]!.GetValue<string>());
    }

    [Fact]
    public async Task Creating_in_a_missing_namespace_is_404_for_the_namespace()
    {
        var status = await Errors.StatusAsync(() => _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("x"), "does-not-exist"), HttpStatusCode.NotFound, "NotFound");
        Assert.Equal("namespaces \"does-not-exist\" not found", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Finalizers_keep_a_deleted_object_with_a_deletionTimestamp_until_they_are_removed()
    {
        var ns = await _f.NamespaceAsync();
        var cm = ConfigMap("fin");
        cm.Metadata.Finalizers = ["example.com/hold"];
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(cm, ns);
        await _f.Client.CoreV1.DeleteNamespacedConfigMapAsync("fin", ns);
        var deleting = await _f.Client.CoreV1.ReadNamespacedConfigMapAsync("fin", ns);
        Assert.NotNull(deleting.Metadata.DeletionTimestamp);

        deleting.Metadata.Finalizers.Add("example.com/late");
        var refused = await Errors.StatusAsync(() => _f.Client.CoreV1.ReplaceNamespacedConfigMapAsync(deleting, "fin", ns), (HttpStatusCode)422, "Invalid");
        Assert.Contains("no new finalizers can be added", refused["message"]!.GetValue<string>());

        var patch = new V1Patch("{\"metadata\":{\"finalizers\":null}}", V1Patch.PatchType.MergePatch);
        await _f.Client.CoreV1.PatchNamespacedConfigMapAsync(patch, "fin", ns);
        await Errors.StatusAsync(() => _f.Client.CoreV1.ReadNamespacedConfigMapAsync("fin", ns), HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task DryRun_validates_and_answers_without_persisting()
    {
        var ns = await _f.NamespaceAsync();
        var answered = await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("dry"), ns, dryRun: "All");
        Assert.Equal("dry", answered.Metadata.Name);
        await Errors.StatusAsync(() => _f.Client.CoreV1.ReadNamespacedConfigMapAsync("dry", ns), HttpStatusCode.NotFound, "NotFound");
        await Errors.StatusAsync(() => _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("BAD"), ns, dryRun: "All"), (HttpStatusCode)422, "Invalid");
    }

    [Fact]
    public async Task Deleting_a_namespace_removes_its_contents_then_the_namespace()
    {
        var ns = await _f.NamespaceAsync("gone");
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("inside"), ns);
        await _f.Client.CoreV1.DeleteNamespaceAsync(ns);
        await Eventually.GetAsync(
            async () => (await _f.Client.CoreV1.ListNamespaceAsync()).Items.Any(n => n.Metadata.Name == ns),
            present => !present, $"namespace {ns} to disappear");
        var left = await _f.Client.CoreV1.ListNamespacedConfigMapAsync(ns);
        Assert.Empty(left.Items);
    }

    [Fact]
    public async Task The_system_namespaces_may_not_be_deleted()
    {
        var status = await Errors.StatusAsync(() => _f.Client.CoreV1.DeleteNamespaceAsync("default"), HttpStatusCode.Forbidden, "Forbidden");
        Assert.Equal("namespaces \"default\" is forbidden: this namespace may not be deleted", status["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_terminating_namespace_refuses_new_content_with_403()
    {
        var ns = await _f.NamespaceAsync("term");
        var cm = ConfigMap("holder");
        cm.Metadata.Finalizers = ["example.com/hold"];
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(cm, ns);
        await _f.Client.CoreV1.DeleteNamespaceAsync(ns);
        var status = await Errors.StatusAsync(() => _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("new"), ns), HttpStatusCode.Forbidden, "Forbidden");
        Assert.Contains("because it is being terminated", status["message"]!.GetValue<string>());
        var phase = (await _f.Client.CoreV1.ReadNamespaceAsync(ns)).Status.Phase;
        Assert.Equal("Terminating", phase);
        await _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("{\"metadata\":{\"finalizers\":null}}", V1Patch.PatchType.MergePatch), "holder", ns);
        await Eventually.GetAsync(
            async () => (await _f.Client.CoreV1.ListNamespaceAsync()).Items.Any(n => n.Metadata.Name == ns),
            present => !present, $"namespace {ns} to disappear");
    }

    [Fact]
    public async Task Immutable_fields_are_refused_with_422_naming_them()
    {
        var ns = await _f.NamespaceAsync();
        var frozen = ConfigMap("frozen");
        frozen.Immutable = true;
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(frozen, ns);
        var status = await Errors.StatusAsync(() => _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"k":"2"}}""", V1Patch.PatchType.MergePatch), "frozen", ns),
            (HttpStatusCode)422, "Invalid");
        Assert.Equal("data: Forbidden: field is immutable when `immutable` is set", status["message"]!.GetValue<string>().Split(": ", 2)[1]);
        await _f.Client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"metadata":{"labels":{"ok":"yes"}}}""", V1Patch.PatchType.MergePatch), "frozen", ns);

        var deployment = new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = "d" },
            Spec = new V1DeploymentSpec
            {
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "a" } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "a", ["v"] = "1" } },
                    Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "example/c:1" }] },
                },
            },
        };
        await _f.Client.AppsV1.CreateNamespacedDeploymentAsync(deployment, ns);
        var selector = await Errors.StatusAsync(() => _f.Client.AppsV1.PatchNamespacedDeploymentAsync(
            new V1Patch("""{"spec":{"selector":{"matchLabels":{"v":"1"}}}}""", V1Patch.PatchType.MergePatch), "d", ns), (HttpStatusCode)422, "Invalid");
        Assert.Contains("spec.selector: Invalid value: ", selector["message"]!.GetValue<string>());
        Assert.Contains("field is immutable", selector["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Delete_answers_what_the_typed_client_expects_the_object_or_a_Status()
    {
        var ns = await _f.NamespaceAsync();
        await _f.Client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "svc" },
            Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Port = 80 }] },
        }, ns);
        var service = await _f.Client.CoreV1.DeleteNamespacedServiceAsync("svc", ns);
        Assert.Equal("svc", service.Metadata.Name);
        await _f.Client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("cm"), ns);
        var status = await _f.Client.CoreV1.DeleteNamespacedConfigMapAsync("cm", ns);
        Assert.Equal("Success", status.Status);
        Assert.Equal("cm", status.Details.Name);
    }

    [Fact]
    public async Task Secret_stringData_is_merged_into_base64_data_and_type_defaults_to_Opaque()
    {
        var ns = await _f.NamespaceAsync();
        var secret = new V1Secret { Metadata = new V1ObjectMeta { Name = "s" }, StringData = new Dictionary<string, string> { ["pw"] = "hunter2" } };
        var created = await _f.Client.CoreV1.CreateNamespacedSecretAsync(secret, ns);
        Assert.Equal("Opaque", created.Type);
        Assert.Equal("hunter2", System.Text.Encoding.UTF8.GetString(created.Data["pw"]));
        Assert.Null(created.StringData);
    }
}
