using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ecosystem.Tests.Cluster;
using TestSupport;

namespace Ecosystem.Tests.Prometheus;

/// <summary>
/// The PrometheusRule the running operator keeps per GruModel, read back from the cluster and run through promtool
/// (check rules, and unit tests on synthetic series: slo-rules.test.yaml); and, without the CRD, nothing but one log line.
/// </summary>
[Collection(ProcessCollection.Name)]
public sealed class OperatorSloRulesTests : IDisposable
{
    private static readonly string TestFile = Path.Combine(AppContext.BaseDirectory, "Prometheus", "slo-rules.test.yaml");
    private static readonly string PrometheusRuleCrd = Path.Combine(Repository.Root, "tests", "crds", "prometheus-operator", "monitoring.coreos.com_prometheusrules.yaml");
    private static readonly string GruModelCrd = Path.Combine(Repository.Root, "config", "crds", "serving.gru.dev_grumodels.yaml");

    /// <summary>The models of slo-rules.test.yaml: name, errorRate, latencyP95.</summary>
    private static readonly (string Name, string ErrorRate, string LatencyP95)[] Models =
    [
        ("good", "0.01", "200ms"), ("err-fast", "0.01", "200ms"), ("err-slow", "0.01", "200ms"), ("strict", "0.001", "200ms"),
        ("lat-fast", "0.01", "200ms"), ("lat-slow", "0.01", "200ms"), ("no-sli", "0.01", "300ms"),
    ];

    private readonly string _work = Directory.CreateTempSubdirectory("gru-slo-rules-").FullName;

    [Fact]
    public async Task Each_GruModel_gets_burn_rate_rules_from_its_slo_that_promtool_accepts_and_that_fire_exactly_where_they_should()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ct = deadline.Token;
        await using var cluster = await LocalClusterWithKubectl.StartAsync(ct);
        await InstallCrdsAsync(cluster, withPrometheusRules: true, ct);
        await cluster.KubectlOkAsync(["apply", "-f", "-"], ct, ModelsYaml("slo"));

        await using var op = await cluster.StartOperatorAsync(ct);
        var rules = await WaitForRulesAsync(cluster, Models.Length, op, ct);

        foreach (var rule in rules)
        {
            var owner = rule["metadata"]!["ownerReferences"]!.AsArray().Single()!;
            Assert.Equal("GruModel", owner["kind"]!.GetValue<string>());
            Assert.Equal(rule["metadata"]!["name"]!.GetValue<string>(), owner["name"]!.GetValue<string>() + "-slo");
        }

        // Check the rules as generated, annotation templates included: one file per PrometheusRule, as the Prometheus
        // Operator renders them (in one file promtool would lint the same alert names of different models as duplicates).
        var checkFiles = rules.Select((r, i) => WriteRules([r], $"slo-rules-check-{i}.yaml", withAnnotations: true)).ToList();
        var check = await ExternalTool.Promtool.RunAsync(["check", "rules", .. checkFiles], _work, cancellationToken: ct);
        Assert.True(check.ExitCode == 0, check.Output);
        Assert.True(check.Stdout.Split("SUCCESS: 5 rules found").Length - 1 == Models.Length, check.Output);

        // Fire and stay silent exactly as the synthetic series say.
        WriteRules(rules, "slo-rules.yaml", withAnnotations: false);
        File.Copy(TestFile, Path.Combine(_work, "slo-rules.test.yaml"), overwrite: true);
        var test = await ExternalTool.Promtool.RunAsync(["test", "rules", "slo-rules.test.yaml"], _work, cancellationToken: ct);
        Assert.True(test.ExitCode == 0, test.Output);

        // The tests can fail: a fast-burn factor of 144 instead of 14.4 must be caught.
        var weakened = rules.Select(r => JsonNode.Parse(r.ToJsonString().Replace("(14.4 * 0.01)", "(144 * 0.01)", StringComparison.Ordinal))!.AsObject()).ToList();
        WriteRules(weakened, "slo-rules.yaml", withAnnotations: false);
        var mutated = await ExternalTool.Promtool.RunAsync(["test", "rules", "slo-rules.test.yaml"], _work, cancellationToken: ct);
        Assert.True(mutated.ExitCode != 0, $"promtool passed weakened rules: {mutated.Output}");
        Assert.Contains("GruModelErrorBudgetBurnFast", mutated.Stdout + mutated.Stderr, StringComparison.Ordinal);

        // A new objective is a new rule: the bucket the latency alerts read follows spec.slo.latencyP95.
        await cluster.KubectlOkAsync(["patch", "grumodel", "lat-slow", "-n", "slo", "--type=merge", "-p", """{"spec":{"slo":{"latencyP95":"250ms"}}}"""], ct);
        await WaitUntilAsync(async () => (await GetRuleAsync(cluster, "lat-slow-slo", ct)).Contains("le=\\\"0.25\\\"", StringComparison.Ordinal), "lat-slow-slo to read le=\"0.25\"", op, ct);
    }

    [Fact]
    public async Task Without_the_PrometheusRule_CRD_the_operator_serves_as_before_and_says_so_once()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = deadline.Token;
        await using var cluster = await LocalClusterWithKubectl.StartAsync(ct);
        await InstallCrdsAsync(cluster, withPrometheusRules: false, ct);
        await cluster.KubectlOkAsync(["apply", "-f", "-"], ct, ModelsYaml("slo", count: 3));

        await using var op = await cluster.StartOperatorAsync(ct);
        await WaitUntilAsync(async () =>
        {
            using var doc = JsonDocument.Parse(await cluster.KubectlOkAsync(["get", "grumodels", "-n", "slo", "-o", "json"], ct));
            return doc.RootElement.GetProperty("items").EnumerateArray().Count(m =>
                m.TryGetProperty("status", out var s) && s.TryGetProperty("phase", out var p) && p.GetString() == "Healthy") == 3;
        }, "three Healthy GruModels", op, ct);
        await WaitUntilAsync(() => Task.FromResult(op.Output.Contains("PrometheusRule CRD", StringComparison.Ordinal)), "the operator to say the CRD is missing", op, ct);
        // "Once" means once for all three models: wait until the rule controller (it runs beside the serving one) has
        // reconciled at least three times, as its own metrics count, before counting the lines.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await WaitUntilAsync(async () => RuleReconciles(await http.GetStringAsync($"http://127.0.0.1:{op.MetricsPort}/metrics", ct)) >= 3,
            "the rule controller to reconcile all three models", op, ct);

        var lines = op.Output.Split('\n').Where(l => l.Contains("PrometheusRule", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1, $"expected one line about PrometheusRules, got:\n{string.Join('\n', lines)}");
        Assert.Contains("(prometheusrules.monitoring.coreos.com) is not installed", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("failed (attempt", op.Output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // a temp directory left behind is harmless
        }
    }

    private static async Task InstallCrdsAsync(LocalClusterWithKubectl cluster, bool withPrometheusRules, CancellationToken ct)
    {
        await cluster.KubectlOkAsync(["apply", "--server-side", "-f", GruModelCrd], ct);
        await cluster.KubectlOkAsync(["wait", "--for=condition=Established", "crd/grumodels.serving.gru.dev", "--timeout=60s"], ct);
        if (!withPrometheusRules) return;
        await cluster.KubectlOkAsync(["apply", "--server-side", "-f", PrometheusRuleCrd], ct);
        await cluster.KubectlOkAsync(["wait", "--for=condition=Established", "crd/prometheusrules.monitoring.coreos.com", "--timeout=60s"], ct);
    }

    private static string ModelsYaml(string ns, int? count = null)
    {
        var yaml = new StringBuilder($"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n");
        foreach (var (name, errorRate, latency) in Models.Take(count ?? Models.Length))
        {
            yaml.Append($"""
                ---
                apiVersion: serving.gru.dev/v1alpha1
                kind: GruModel
                metadata: {"{"}name: {name}, namespace: {ns}{"}"}
                spec:
                  model: {"{"}name: {name}, source: "file:///opt/gru/models/sample-gru.onnx", sha256: f13c3245ec003e0ed76a2214e6ff89d0e545b45dd58ec22424ee5e1e2febbe52{"}"}
                  serving: {"{"}executionProvider: CPU{"}"}
                  slo: {"{"}errorRate: "{errorRate}", latencyP95: {latency}{"}"}

                """);
        }
        return yaml.ToString();
    }

    private static async Task<List<JsonObject>> WaitForRulesAsync(LocalClusterWithKubectl cluster, int count, OperatorProcess op, CancellationToken ct)
    {
        List<JsonObject> rules = [];
        await WaitUntilAsync(async () =>
        {
            var list = JsonNode.Parse(await cluster.KubectlOkAsync(["get", "prometheusrules", "-n", "slo", "-o", "json"], ct))!;
            rules = list["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
            return rules.Count == count;
        }, $"{count} PrometheusRules", op, ct);
        return rules;
    }

    private static Task<string> GetRuleAsync(LocalClusterWithKubectl cluster, string name, CancellationToken ct) =>
        cluster.KubectlOkAsync(["get", "prometheusrule", name, "-n", "slo", "-o", "json"], ct);

    /// <summary>The groups of every rule as one Prometheus rules file (JSON is YAML).</summary>
    private string WriteRules(IEnumerable<JsonObject> rules, string file, bool withAnnotations)
    {
        var groups = new JsonArray();
        foreach (var rule in rules)
        {
            foreach (var group in rule["spec"]!["groups"]!.AsArray())
            {
                var copy = group!.DeepClone().AsObject();
                if (!withAnnotations)
                {
                    foreach (var r in copy["rules"]!.AsArray()) r!.AsObject().Remove("annotations");
                }
                groups.Add(copy);
            }
        }
        var path = Path.Combine(_work, file);
        File.WriteAllText(path, new JsonObject { ["groups"] = groups }.ToJsonString());
        return path;
    }

    /// <summary>controller_reconcile_total of the SLO rule controller (grumodel-slo-rules), all results summed.</summary>
    private static double RuleReconciles(string metrics) =>
        metrics.Split('\n')
            .Where(l => l.StartsWith("controller_reconcile_total{", StringComparison.Ordinal) && l.Contains("controller=\"grumodel-slo-rules\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));

    private static async Task WaitUntilAsync(Func<Task<bool>> done, string what, OperatorProcess op, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            if (await done()) return;
            try
            {
                await Task.Delay(250, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        throw new TimeoutException($"timed out waiting for {what}; operator:\n{op.Output}");
    }
}
