using Kube.Local.Tests.Support;

namespace Kube.Local.Tests.Kubectl;

/// <summary>kubectl 1.32 against LocalCluster with no extra flags: the workflows an SRE runs.</summary>
public sealed class KubectlTests : IClassFixture<KubectlFixture>
{
    private readonly KubectlFixture _k;

    public KubectlTests(KubectlFixture k) => _k = k;

    private async Task<KubectlResult> OkAsync(string args, string? stdin = null)
    {
        var r = await _k.RunAsync(args, stdin);
        Assert.True(r.ExitCode == 0, $"kubectl {args} failed: {r}");
        return r;
    }

    private async Task<string> NamespaceAsync(string name)
    {
        await OkAsync($"create namespace {name}");
        return name;
    }

    [Fact]
    public void Missing_kubectl_fails_the_test_with_how_to_get_it()
    {
        var empty = Directory.CreateTempSubdirectory("no-kubectl-");
        try
        {
            var failure = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => KubectlFixture.RequireKubectl(empty.FullName));
            Assert.Contains(KubectlFixture.MissingKubectl, failure.Message);
        }
        finally
        {
            empty.Delete();
        }
    }

    private async Task InstallCrdAsync()
    {
        await OkAsync("apply -f -", Widgets.CrdYaml);
        await OkAsync("wait --for=condition=Established crd/widgets.example.com --timeout=60s");
    }

    private static string Widget(string ns, string name, string size = "small", int replicas = 2) => $"""
        apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: {name}
          namespace: {ns}
        spec:
          size: {size}
          replicas: {replicas}
        """;

    [Fact]
    public async Task Apply_a_CRD_and_a_resource_then_get_shows_the_printer_columns()
    {
        await InstallCrdAsync();
        var ns = await NamespaceAsync("kc-get");
        var applied = await OkAsync("apply -f -", Widget(ns, "w1", "large", 3));
        Assert.Contains("widget.example.com/w1 created", applied.Stdout);
        var get = await OkAsync($"get widgets -n {ns}");
        var lines = get.Stdout.Trim().Split('\n');
        Assert.Matches(@"^NAME\s+SIZE\s+REPLICAS\s+READY\s+AGE$", lines[0].Trim());
        Assert.Matches(@"^w1\s+large\s+3\s+\d+s$", lines[1].Trim());
        var again = await OkAsync("apply -f -", Widget(ns, "w1", "large", 3));
        Assert.Contains("widget.example.com/w1 unchanged", again.Stdout);
    }

    [Fact]
    public async Task Invalid_resources_are_rejected_with_the_field_named()
    {
        await InstallCrdAsync();
        var ns = await NamespaceAsync("kc-invalid");
        var r = await _k.RunAsync("apply -f -", Widget(ns, "bad", "huge", -1));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("spec.size: Unsupported value: \"huge\"", r.Stderr);
        Assert.Contains("spec.replicas: Invalid value: -1", r.Stderr);
    }

    [Fact]
    public async Task Patch_status_then_wait_for_the_Ready_condition()
    {
        await InstallCrdAsync();
        var ns = await NamespaceAsync("kc-wait");
        await OkAsync("apply -f -", Widget(ns, "w"));
        var waiting = _k.RunAsync($"wait --for=condition=Ready widget/w -n {ns} --timeout=60s");
        var patch = """'{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Serving","message":"all good"}]}}'""";
        await OkAsync($"patch widget w -n {ns} --subresource=status --type=merge -p {patch}");
        var waited = await waiting;
        Assert.True(waited.ExitCode == 0, waited.ToString());
        Assert.Contains("condition met", waited.Stdout);
        var ready = await OkAsync($"get widget w -n {ns} -o jsonpath={{.status.conditions[0].reason}}");
        Assert.Equal("Serving", ready.Stdout.Trim());
    }

    [Fact]
    public async Task Delete_with_a_finalizer_pending_keeps_the_object_until_the_finalizer_is_released()
    {
        await InstallCrdAsync();
        var ns = await NamespaceAsync("kc-fin");
        await OkAsync("apply -f -", Widget(ns, "held"));
        await OkAsync($"patch widget held -n {ns} --type=merge -p '{{\"metadata\":{{\"finalizers\":[\"example.com/hold\"]}}}}'");
        var deleted = await OkAsync($"delete widget held -n {ns} --wait=false");
        Assert.Contains("deleted", deleted.Stdout);
        var stamp = await OkAsync($"get widget held -n {ns} -o jsonpath={{.metadata.deletionTimestamp}}");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", stamp.Stdout.Trim());
        await OkAsync($"patch widget held -n {ns} --type=json -p '[{{\"op\":\"remove\",\"path\":\"/metadata/finalizers\"}}]'");
        var gone = await _k.RunAsync($"get widget held -n {ns}");
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("widgets.example.com \"held\" not found", gone.Stderr);
    }

    [Fact]
    public async Task Server_side_apply_reports_conflicts_and_force_conflicts_wins()
    {
        await InstallCrdAsync();
        var ns = await NamespaceAsync("kc-ssa");
        var first = await OkAsync("apply --server-side -f -", Widget(ns, "s", replicas: 2));
        Assert.Contains("serverside-applied", first.Stdout);
        await OkAsync($"patch widget s -n {ns} --type=merge -p '{{\"spec\":{{\"replicas\":5}}}}'");
        var conflict = await _k.RunAsync("apply --server-side -f -", Widget(ns, "s", replicas: 2));
        Assert.NotEqual(0, conflict.ExitCode);
        Assert.Contains("conflict with \"kubectl-patch\"", conflict.Stderr);
        Assert.Contains(".spec.replicas", conflict.Stderr);
        await OkAsync("apply --server-side --force-conflicts -f -", Widget(ns, "s", replicas: 2));
        var replicas = await OkAsync($"get widget s -n {ns} -o jsonpath={{.spec.replicas}}");
        Assert.Equal("2", replicas.Stdout.Trim());
    }

    [Fact]
    public async Task Create_namespace_configmap_and_secret_through_protobuf_bodies()
    {
        var ns = await NamespaceAsync("kc-proto");
        await OkAsync($"create configmap settings -n {ns} --from-literal=mode=fast --from-literal=level=3");
        await OkAsync($"create secret generic creds -n {ns} --from-literal=password=s3cret");
        var cm = await OkAsync($"get configmap settings -n {ns} -o jsonpath={{.data.mode}}/{{.data.level}}");
        Assert.Equal("fast/3", cm.Stdout.Trim());
        var secret = await OkAsync($"get secret creds -n {ns} -o jsonpath={{.type}}/{{.data.password}}");
        Assert.Equal("Opaque/" + Convert.ToBase64String("s3cret"u8.ToArray()), secret.Stdout.Trim());
        var phase = await OkAsync($"get namespace {ns} -o jsonpath={{.status.phase}}");
        Assert.Equal("Active", phase.Stdout.Trim());
    }

    [Fact]
    public async Task Typed_create_of_other_kinds_gets_a_clear_415_instead_of_a_hang()
    {
        var ns = await NamespaceAsync("kc-415");
        var r = await _k.RunAsync($"create deployment web -n {ns} --image=example/web:1");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("decodes protobuf request bodies only for v1 Namespace, ConfigMap and Secret", r.Stderr);
    }

    [Fact]
    public async Task Client_side_apply_of_a_deployment_uses_strategic_merge_and_reports_configured()
    {
        var ns = await NamespaceAsync("kc-csa");
        string Deployment(string image) => $"""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
              namespace: {ns}
            spec:
              replicas: 2
              selector:
                matchLabels: {"{"}app: web{"}"}
              template:
                metadata:
                  labels: {"{"}app: web{"}"}
                spec:
                  containers:
                  - name: web
                    image: {image}
                  - name: sidecar
                    image: example/sidecar:1
            """;
        Assert.Contains("created", (await OkAsync("apply -f -", Deployment("example/web:1"))).Stdout);
        var configured = await OkAsync("apply -f -", Deployment("example/web:2"));
        Assert.Contains("deployment.apps/web configured", configured.Stdout);
        var images = await OkAsync($"get deployment web -n {ns} -o jsonpath={{.spec.template.spec.containers[*].image}}");
        Assert.Equal("example/web:2 example/sidecar:1", images.Stdout.Trim());
        var generation = await OkAsync($"get deployment web -n {ns} -o jsonpath={{.metadata.generation}}");
        Assert.Equal("2", generation.Stdout.Trim());

        // kubectl diff is a server-side dry run: it shows the change and stores nothing.
        var diff = await _k.RunAsync("diff -f -", Deployment("example/web:3"));
        Assert.Equal(1, diff.ExitCode);
        Assert.Contains("+      - image: example/web:3", diff.Stdout);
        var unchanged = await OkAsync($"get deployment web -n {ns} -o jsonpath={{.metadata.generation}}");
        Assert.Equal("2", unchanged.Stdout.Trim());

        // Moving from client-side to server-side apply takes the fields over without conflicts, as upstream.
        var upgraded = await OkAsync("apply --server-side -f -", Deployment("example/web:4"));
        Assert.Contains("serverside-applied", upgraded.Stdout);
        var image = await OkAsync($"get deployment web -n {ns} -o jsonpath={{.spec.template.spec.containers[0].image}}");
        Assert.Equal("example/web:4", image.Stdout.Trim());
        await OkAsync("apply -f -", Deployment("example/web:2"));

        var wide = await OkAsync($"get deployment web -n {ns} -o wide");
        Assert.Matches(@"(?m)^web\s+0/2\s+0\s+0\s+\S+\s+web,sidecar\s+example/web:2,example/sidecar:1\s+app=web$", wide.Stdout);
    }

    [Fact]
    public async Task Scale_a_custom_resource_through_its_scale_subresource()
    {
        await InstallCrdAsync();
        var ns = await NamespaceAsync("kc-scale");
        await OkAsync("apply -f -", Widget(ns, "sc", replicas: 1));
        var scaled = await OkAsync($"scale widget sc -n {ns} --replicas=4");
        Assert.Contains("widget.example.com/sc scaled", scaled.Stdout);
        var replicas = await OkAsync($"get widget sc -n {ns} -o jsonpath={{.spec.replicas}}");
        Assert.Equal("4", replicas.Stdout.Trim());
    }

    [Fact]
    public async Task Api_resources_lists_built_ins_and_custom_resources()
    {
        await InstallCrdAsync();
        var r = await OkAsync("api-resources");
        Assert.Matches(@"(?m)^widgets\s+wg\s+example.com/v1\s+true\s+Widget\s*$", r.Stdout);
        Assert.Matches(@"(?m)^deployments\s+deploy\s+apps/v1\s+true\s+Deployment\s*$", r.Stdout);
        Assert.Matches(@"(?m)^leases\s+coordination.k8s.io/v1\s+true\s+Lease\s*$", r.Stdout);
    }

    [Fact]
    public async Task Describe_shows_a_custom_resource_and_a_built_in()
    {
        await InstallCrdAsync();
        var ns = await NamespaceAsync("kc-describe");
        await OkAsync("apply -f -", Widget(ns, "d", "large"));
        var cr = await OkAsync($"describe widget d -n {ns}");
        Assert.Matches(@"(?m)^Name:\s+d$", cr.Stdout);
        Assert.Matches(@"(?m)^\s+Size:\s+large$", cr.Stdout);
        await OkAsync($"create configmap c -n {ns} --from-literal=k=v");
        var cm = await OkAsync($"describe configmap c -n {ns}");
        Assert.Matches(@"(?m)^Name:\s+c$", cm.Stdout);
        Assert.Contains("Events:", cm.Stdout);
    }

    [Fact]
    public async Task Get_watch_prints_changes_as_they_happen()
    {
        await InstallCrdAsync();
        var ns = await NamespaceAsync("kc-watch");
        await OkAsync("apply -f -", Widget(ns, "live", replicas: 1));
        using var watch = _k.Start($"get widgets -n {ns} -w");
        var lines = new List<string>();
        var reader = Task.Run(async () =>
        {
            while (await watch.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines) lines.Add(line);
            }
        });
        try
        {
            await Eventually.GetAsync(() => Task.FromResult(Snapshot(lines)), l => l.Any(x => x.StartsWith("live", StringComparison.Ordinal)), "the initial row");
            await OkAsync($"patch widget live -n {ns} --type=merge -p '{{\"spec\":{{\"replicas\":7}}}}'");
            await Eventually.GetAsync(() => Task.FromResult(Snapshot(lines)), l => l.Any(x => System.Text.RegularExpressions.Regex.IsMatch(x, @"^live\s+small\s+7\s")), "the changed row");
        }
        finally
        {
            watch.Kill(entireProcessTree: true);
            await watch.WaitForExitAsync();
        }
    }

    private static List<string> Snapshot(List<string> lines)
    {
        lock (lines) return [.. lines];
    }
}
