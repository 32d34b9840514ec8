using k8s;
using k8s.Models;
using Kube.Local.Api;
using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Defaulting;

/// <summary>
/// Server defaults are applied to the final object of every write (create, apply, PUT, patches), so a client that
/// re-sends its manifest without the defaulted fields changes nothing: same resourceVersion, same generation.
/// </summary>
public sealed class DefaultsOnWriteTests : IClassFixture<ClusterFixture>
{
    private readonly ClusterFixture _f;

    public DefaultsOnWriteTests(ClusterFixture f) => _f = f;

    /// <summary>A manifest the way an operator writes it: ports without protocol, env, probes, no defaulted fields.</summary>
    private const string DeploymentYaml = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: {app: web}
        spec:
          replicas: 2
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              initContainers:
              - name: fetch
                image: example/fetch:1
              containers:
              - name: web
                image: example/web:1
                args: ["--port", "8080"]
                ports:
                - name: http
                  containerPort: 8080
                env:
                - name: MODE
                  value: serve
                - name: POD_NAME
                  valueFrom: {fieldRef: {fieldPath: metadata.name}}
                resources:
                  requests: {cpu: 100m, memory: 64Mi}
                readinessProbe:
                  httpGet: {path: /ready, port: http}
                  periodSeconds: 5
                volumeMounts:
                - name: model
                  mountPath: /models
                - name: settings
                  mountPath: /etc/web
              - name: sidecar
                image: example/sidecar
              volumes:
              - name: model
                emptyDir:
                  sizeLimit: 1Gi
              - name: settings
                configMap:
                  name: web-settings
        """;

    /// <summary>The manifest as the typed model the client holds (KubernetesClient sends JSON, so no YAML on the wire).</summary>
    private static T Typed<T>(string yaml) => KubernetesJson.Deserialize<T>(YamlJson.Parse(yaml)!.ToJsonString());

    /// <summary>An apply patch as KubernetesClient sends it: the typed manifest serialized to JSON, nulls left out.</summary>
    private static V1Patch ApplyPatch<T>(string yaml) => new(KubernetesJson.Serialize(Typed<T>(yaml)), V1Patch.PatchType.ApplyPatch);

    private Task<V1Deployment> ApplyDeploymentAsync(string ns, string manager = "gru-operator") =>
        _f.Client.AppsV1.PatchNamespacedDeploymentAsync(ApplyPatch<V1Deployment>(DeploymentYaml), "web", ns, fieldManager: manager, force: true);

    private static void AssertContainerDefaults(V1Container c, string pullPolicy)
    {
        Assert.Equal(pullPolicy, c.ImagePullPolicy);
        Assert.Equal("/dev/termination-log", c.TerminationMessagePath);
        Assert.Equal("File", c.TerminationMessagePolicy);
        Assert.All(c.Ports ?? [], p => Assert.Equal("TCP", p.Protocol));
    }

    private static void AssertDeploymentDefaults(V1Deployment d)
    {
        var spec = d.Spec.Template.Spec;
        AssertContainerDefaults(spec.Containers.Single(c => c.Name == "web"), "IfNotPresent");
        AssertContainerDefaults(spec.Containers.Single(c => c.Name == "sidecar"), "Always");
        AssertContainerDefaults(spec.InitContainers.Single(), "IfNotPresent");
        Assert.Equal("Always", spec.RestartPolicy);
        Assert.Equal("ClusterFirst", spec.DnsPolicy);
        Assert.Equal("default-scheduler", spec.SchedulerName);
        Assert.Equal(30, spec.TerminationGracePeriodSeconds);
        Assert.Equal("RollingUpdate", d.Spec.Strategy.Type);
        Assert.Equal(10, d.Spec.RevisionHistoryLimit);
        Assert.Equal(600, d.Spec.ProgressDeadlineSeconds);
        var web = spec.Containers.Single(c => c.Name == "web");
        var probe = web.ReadinessProbe;
        Assert.Equal((5, 1, 1, 3), (probe.PeriodSeconds, probe.TimeoutSeconds, probe.SuccessThreshold, probe.FailureThreshold));
        Assert.Equal("HTTP", probe.HttpGet.Scheme);
        Assert.Equal("v1", web.Env.Single(e => e.Name == "POD_NAME").ValueFrom.FieldRef.ApiVersion);
        Assert.Equal(420, spec.Volumes.Single(v => v.Name == "settings").ConfigMap.DefaultMode);
    }

    private static void AssertUnchanged(V1Deployment before, V1Deployment after)
    {
        Assert.Equal(before.Metadata.ResourceVersion, after.Metadata.ResourceVersion);
        Assert.Equal(before.Metadata.Generation, after.Metadata.Generation);
        AssertDeploymentDefaults(after);
    }

    [Fact]
    public async Task Reapplying_the_same_deployment_manifest_is_a_no_op()
    {
        var ns = await _f.NamespaceAsync("defaults");
        var first = await ApplyDeploymentAsync(ns);
        AssertDeploymentDefaults(first);
        Assert.Equal(1, first.Metadata.Generation);
        for (var i = 0; i < 3; i++)
        {
            AssertUnchanged(first, await ApplyDeploymentAsync(ns));
        }
        AssertUnchanged(first, await _f.Client.AppsV1.ReadNamespacedDeploymentAsync("web", ns));
    }

    [Fact]
    public async Task Reapplying_after_another_manager_wrote_keeps_the_defaults_and_the_generation()
    {
        var ns = await _f.NamespaceAsync("defaults");
        await ApplyDeploymentAsync(ns);
        // Someone else (kubectl scale, an HPA) touches the object; the operator then re-applies its manifest.
        var scaled = await _f.Client.AppsV1.PatchNamespacedDeploymentAsync(
            new V1Patch("""{"metadata":{"annotations":{"note":"x"}}}""", V1Patch.PatchType.MergePatch), "web", ns, fieldManager: "kubectl-annotate");
        AssertUnchanged(scaled, await ApplyDeploymentAsync(ns));
    }

    /// <summary>The client's own model of the object: its manifest (no defaults), plus the resourceVersion and managedFields it read.</summary>
    private static V1Deployment ManifestAt(V1Deployment stored)
    {
        var manifest = Typed<V1Deployment>(DeploymentYaml);
        manifest.Metadata.ResourceVersion = stored.Metadata.ResourceVersion;
        manifest.Metadata.ManagedFields = stored.Metadata.ManagedFields;
        return manifest;
    }

    [Fact]
    public async Task A_put_without_the_defaulted_fields_changes_nothing()
    {
        var ns = await _f.NamespaceAsync("defaults");
        var created = await ApplyDeploymentAsync(ns);
        var replaced = await _f.Client.AppsV1.ReplaceNamespacedDeploymentAsync(ManifestAt(created), "web", ns, fieldManager: "gru-operator");
        AssertUnchanged(created, replaced);
    }

    [Fact]
    public async Task A_put_that_changes_the_image_keeps_the_defaults_and_bumps_generation_once()
    {
        var ns = await _f.NamespaceAsync("defaults");
        var created = await ApplyDeploymentAsync(ns);
        var manifest = ManifestAt(created);
        manifest.Spec.Template.Spec.Containers[0].Image = "example/web:2";
        var replaced = await _f.Client.AppsV1.ReplaceNamespacedDeploymentAsync(manifest, "web", ns);
        Assert.Equal(2, replaced.Metadata.Generation);
        AssertDeploymentDefaults(replaced);
        // Putting the same object again (still without defaults) is then a no-op.
        manifest = ManifestAt(replaced);
        manifest.Spec.Template.Spec.Containers[0].Image = "example/web:2";
        AssertUnchanged(replaced, await _f.Client.AppsV1.ReplaceNamespacedDeploymentAsync(manifest, "web", ns));
    }

    [Fact]
    public async Task Strategic_merge_patches_keep_the_defaults_and_an_identical_patch_is_a_no_op()
    {
        var ns = await _f.NamespaceAsync("defaults");
        await ApplyDeploymentAsync(ns);
        // A container patch without the defaulted fields (kubectl set image / the operator's old code path).
        var patch = """{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"example/web:2","ports":[{"containerPort":8080,"name":"http"}]}]}}}}""";
        var patched = await _f.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch, V1Patch.PatchType.StrategicMergePatch), "web", ns);
        Assert.Equal("example/web:2", patched.Spec.Template.Spec.Containers.Single(c => c.Name == "web").Image);
        Assert.Equal(2, patched.Metadata.Generation);
        AssertDeploymentDefaults(patched);
        AssertUnchanged(patched, await _f.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch, V1Patch.PatchType.StrategicMergePatch), "web", ns));
    }

    [Fact]
    public async Task A_json_patch_removing_a_defaulted_field_gets_it_back_and_changes_nothing()
    {
        var ns = await _f.NamespaceAsync("defaults");
        var created = await ApplyDeploymentAsync(ns);
        var patch = """[{"op":"remove","path":"/spec/template/spec/containers/0/imagePullPolicy"},{"op":"remove","path":"/spec/template/spec/containers/0/terminationMessagePath"}]""";
        AssertUnchanged(created, await _f.Client.AppsV1.PatchNamespacedDeploymentAsync(new V1Patch(patch, V1Patch.PatchType.JsonPatch), "web", ns));
    }

    [Fact]
    public async Task Reapplying_pods_replicasets_and_services_is_a_no_op()
    {
        var ns = await _f.NamespaceAsync("defaults");
        var podYaml = """
            apiVersion: v1
            kind: Pod
            metadata: {name: p, labels: {app: p}}
            spec:
              containers:
              - name: c
                image: example/c:1
                ports: [{containerPort: 80}]
            """;
        var rsYaml = """
            apiVersion: apps/v1
            kind: ReplicaSet
            metadata: {name: rs}
            spec:
              selector: {matchLabels: {app: rs}}
              template:
                metadata: {labels: {app: rs}}
                spec:
                  containers:
                  - name: c
                    image: example/c
            """;
        var svcYaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: s}
            spec:
              selector: {app: p}
              ports: [{name: http, port: 80}]
            """;
        
        var pod = await _f.Client.CoreV1.PatchNamespacedPodAsync(ApplyPatch<V1Pod>(podYaml), "p", ns, fieldManager: "op");
        var podAgain = await _f.Client.CoreV1.PatchNamespacedPodAsync(ApplyPatch<V1Pod>(podYaml), "p", ns, fieldManager: "op");
        Assert.Equal(pod.Metadata.ResourceVersion, podAgain.Metadata.ResourceVersion);
        Assert.Equal("IfNotPresent", podAgain.Spec.Containers[0].ImagePullPolicy);
        Assert.Equal("File", podAgain.Spec.Containers[0].TerminationMessagePolicy);
        Assert.Equal("TCP", podAgain.Spec.Containers[0].Ports[0].Protocol);

        var rs = await _f.Client.AppsV1.PatchNamespacedReplicaSetAsync(ApplyPatch<V1ReplicaSet>(rsYaml), "rs", ns, fieldManager: "op");
        var rsAgain = await _f.Client.AppsV1.PatchNamespacedReplicaSetAsync(ApplyPatch<V1ReplicaSet>(rsYaml), "rs", ns, fieldManager: "op");
        Assert.Equal(rs.Metadata.ResourceVersion, rsAgain.Metadata.ResourceVersion);
        Assert.Equal(1, rsAgain.Metadata.Generation);
        Assert.Equal("Always", rsAgain.Spec.Template.Spec.Containers[0].ImagePullPolicy);
        Assert.Equal("/dev/termination-log", rsAgain.Spec.Template.Spec.Containers[0].TerminationMessagePath);

        var svc = await _f.Client.CoreV1.PatchNamespacedServiceAsync(ApplyPatch<V1Service>(svcYaml), "s", ns, fieldManager: "op");
        var svcAgain = await _f.Client.CoreV1.PatchNamespacedServiceAsync(ApplyPatch<V1Service>(svcYaml), "s", ns, fieldManager: "op");
        Assert.Equal(svc.Metadata.ResourceVersion, svcAgain.Metadata.ResourceVersion);
        Assert.Equal("ClusterIP", svcAgain.Spec.Type);
        Assert.Equal("None", svcAgain.Spec.SessionAffinity);
        Assert.Equal("TCP", svcAgain.Spec.Ports[0].Protocol);
        Assert.Equal("80", svcAgain.Spec.Ports[0].TargetPort.Value);
        Assert.Equal(svc.Spec.ClusterIP, svcAgain.Spec.ClusterIP);

        // A PUT of the service manifest without clusterIP or any default keeps them and changes nothing.
        var svcManifest = Typed<V1Service>(svcYaml);
        svcManifest.Metadata.ResourceVersion = svcAgain.Metadata.ResourceVersion;
        svcManifest.Metadata.ManagedFields = svcAgain.Metadata.ManagedFields;
        var svcPut = await _f.Client.CoreV1.ReplaceNamespacedServiceAsync(svcManifest, "s", ns, fieldManager: "op");
        Assert.Equal(svc.Metadata.ResourceVersion, svcPut.Metadata.ResourceVersion);
        Assert.Equal(svc.Spec.ClusterIP, svcPut.Spec.ClusterIP);
    }
}
