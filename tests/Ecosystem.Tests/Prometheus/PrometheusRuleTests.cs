using TestSupport;
using YamlDotNet.RepresentationModel;

namespace Ecosystem.Tests.Prometheus;

/// <summary>
/// The shipped PrometheusRule, checked and unit-tested by promtool (Debian's prometheus package) on synthetic series:
/// each alert fires when it should and stays silent on healthy series (gru-alerts.test.yaml).
/// </summary>
public sealed class PrometheusRuleTests : IDisposable
{
    private static readonly string TestFile = Path.Combine(AppContext.BaseDirectory, "Prometheus", "gru-alerts.test.yaml");
    private readonly string _work = Directory.CreateTempSubdirectory("gru-promtool-").FullName;

    private static CancellationToken Deadline => new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token;

    [Fact]
    public async Task Promtool_check_rules_accepts_the_spec_with_its_annotation_templates()
    {
        var rules = Path.Combine(_work, "gru-rules.yaml");
        PrometheusRuleFile.WriteSpec(rules);

        var run = await ExternalTool.Promtool.RunAsync(["check", "rules", rules], _work, cancellationToken: Deadline);

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains($"SUCCESS: {PrometheusRuleFile.Rules(PrometheusRuleFile.LoadSpec()).Count()} rules found", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_readme_command_for_a_plain_rules_file_gives_one_promtool_accepts()
    {
        // docs/operations.md "Monitoring", for a Prometheus without the Prometheus Operator, run as written from the repository root.
        var rules = Path.Combine(_work, "gru-rules.yml");
        var extract = await ExternalTool.Bash.RunAsync(["-c", $"sed -n '/^spec:/,$p' config/prometheus/prometheusrule.yaml | sed '1d; s/^  //' > {rules}"],
            Repository.Root, cancellationToken: Deadline);
        Assert.True(extract.ExitCode == 0, extract.Output);

        var run = await ExternalTool.Promtool.RunAsync(["check", "rules", rules], _work, cancellationToken: Deadline);

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains($"SUCCESS: {PrometheusRuleFile.Rules(PrometheusRuleFile.LoadSpec()).Count()} rules found", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Promtool_unit_tests_pass_every_alert_fires_and_stays_silent_where_expected()
    {
        var run = await RunUnitTestsAsync(rule => { });

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("SUCCESS", run.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GruModelErrorBudgetBurnFast", "14.4", "1.44")]
    [InlineData("GruModelErrorBudgetBurnSlow", "> 6 *", "> 60 *")]
    [InlineData("GruModelInputSchemaErrorSurge", ">= 20", ">= 2")]
    [InlineData("GruCanaryStuck", "[30m]", "[1m]")]
    [InlineData("GruModelLatencyBudgetBurnFast", "14.4", "1.44")]
    [InlineData("GruModelLatencyBudgetBurnSlow", "> 6 *", "> 60 *")]
    public async Task A_weakened_or_broken_threshold_makes_the_unit_tests_fail(string alert, string from, string to)
    {
        // Proof the unit tests can fail: the same tests on a deliberately wrong rule must not pass.
        var run = await RunUnitTestsAsync(rule =>
        {
            if (rule.Children.TryGetValue(new YamlScalarNode("alert"), out var name) && ((YamlScalarNode)name).Value == alert)
            {
                var expr = (YamlScalarNode)rule["expr"];
                Assert.Contains(from, expr.Value, StringComparison.Ordinal);
                rule.Children[new YamlScalarNode("expr")] = new YamlScalarNode(expr.Value!.Replace(from, to, StringComparison.Ordinal));
            }
        });

        Assert.True(run.ExitCode != 0, $"promtool passed a mutated {alert}: {run.Output}");
        Assert.Contains(alert, run.Stdout + run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_alert_has_a_case_where_it_fires_and_one_where_it_stays_silent()
    {
        var alerts = PrometheusRuleFile.Rules(PrometheusRuleFile.LoadSpec())
            .Where(r => r.Children.ContainsKey(new YamlScalarNode("alert")))
            .Select(r => ((YamlScalarNode)r["alert"]).Value!).ToList();
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(TestFile)));
        var cases = ((YamlSequenceNode)((YamlMappingNode)stream.Documents[0].RootNode)["tests"]).Children.Cast<YamlMappingNode>()
            .Where(t => t.Children.ContainsKey(new YamlScalarNode("alert_rule_test")))
            .SelectMany(t => ((YamlSequenceNode)t["alert_rule_test"]).Children.Cast<YamlMappingNode>())
            .Select(c => (Alert: ((YamlScalarNode)c["alertname"]).Value!, Fires: ((YamlSequenceNode)c["exp_alerts"]).Children.Count > 0))
            .ToList();

        Assert.NotEmpty(alerts);
        Assert.All(alerts, alert =>
        {
            Assert.True(cases.Contains((alert, true)), $"{alert} has no case where it fires");
            Assert.True(cases.Contains((alert, false)), $"{alert} has no case where it stays silent");
        });
        Assert.All(cases, c => Assert.Contains(c.Alert, alerts));
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private async Task<ToolRun> RunUnitTestsAsync(Action<YamlMappingNode> mutateRule)
    {
        PrometheusRuleFile.WriteSpec(Path.Combine(_work, "gru-rules.yaml"), spec =>
        {
            PrometheusRuleFile.WithoutAnnotations(spec);
            foreach (var rule in PrometheusRuleFile.Rules(spec)) mutateRule(rule);
        });
        File.Copy(TestFile, Path.Combine(_work, "gru-alerts.test.yaml"));
        return await ExternalTool.Promtool.RunAsync(["test", "rules", "gru-alerts.test.yaml"], _work, cancellationToken: Deadline);
    }
}
