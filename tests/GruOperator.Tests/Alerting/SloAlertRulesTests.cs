using GruOperator.Alerting;
using GruOperator.Api;
using GruOperator.Tests.Support;

namespace GruOperator.Tests.Alerting;

public sealed class SloAlertRulesTests
{
    [Theory]
    [InlineData("200ms", "0.2")]
    [InlineData("1s", "1")]
    [InlineData("150ms", "0.15")]
    [InlineData("1m30s", "90")]
    public void TheLatencyAlertsReadTheBucketWhoseBoundIsTheObjective(string latencyP95, string le)
    {
        var model = Models.Cpu("m", "ml");
        model.Spec.Slo = new SloSpec { LatencyP95 = latencyP95 };

        var rule = SloAlertRules.Build(model, "gru-operator");

        var rules = rule["spec"]!["groups"]![0]!["rules"]!.AsArray();
        foreach (var name in new[] { "GruModelLatencyBudgetBurnFast", "GruModelLatencyBudgetBurnSlow", "GruModelLatencySliMissing" })
        {
            var expr = rules.Single(r => r!["alert"]!.GetValue<string>() == name)!["expr"]!.GetValue<string>();
            Assert.Contains($"le=\"{le}\"", expr);
            Assert.Contains("namespace=\"ml\",model=\"m\"", expr);
        }
    }

    [Fact]
    public void TheRuleIsOwnedByTheModelAndUsesItsOwnObjectives()
    {
        var model = Models.Cpu("recs", "ml");
        model.Spec.Model.Name = "session-recs";
        model.Spec.Slo = new SloSpec { ErrorRate = "0.002" };

        var rule = SloAlertRules.Build(model, "gru-operator");

        Assert.Equal(("recs-slo", "ml"), (rule["metadata"]!["name"]!.GetValue<string>(), rule["metadata"]!["namespace"]!.GetValue<string>()));
        var owner = rule["metadata"]!["ownerReferences"]![0]!;
        Assert.Equal((GruModel.KindName, "recs", "uid-recs", true), (owner["kind"]!.GetValue<string>(), owner["name"]!.GetValue<string>(), owner["uid"]!.GetValue<string>(), owner["controller"]!.GetValue<bool>()));
        var rules = rule["spec"]!["groups"]![0]!["rules"]!.AsArray();
        Assert.Equal(
            ["GruModelErrorBudgetBurnFast", "GruModelErrorBudgetBurnSlow", "GruModelLatencyBudgetBurnFast", "GruModelLatencyBudgetBurnSlow", "GruModelLatencySliMissing"],
            rules.Select(r => r!["alert"]!.GetValue<string>()));
        var fast = rules[0]!["expr"]!.GetValue<string>();
        // GruServer labels its series with spec.model.name; the burn factors multiply the model's own objective.
        Assert.Contains("model=\"session-recs\"", fast);
        Assert.Contains("> (14.4 * 0.002)", fast);
        Assert.Contains("[1h]", fast);
        Assert.Contains("[5m]", fast);
        Assert.Contains("> (6 * 0.002)", rules[1]!["expr"]!.GetValue<string>());
        Assert.Contains("> (14.4 * 0.05)", rules[2]!["expr"]!.GetValue<string>());
    }

    [Fact]
    public void AnUnusableLatencyObjectiveIsRefusedNamingTheField()
    {
        var model = Models.Cpu("m", "ml");
        model.Spec.Slo = new SloSpec { LatencyP95 = "fast" };

        var error = Assert.Throws<ArgumentException>(() => SloAlertRules.Build(model, "gru-operator"));

        Assert.Contains("spec.slo.latencyP95 'fast'", error.Message);
    }

    [Fact]
    public void AModelNameOrObjectiveThatWouldRewriteTheExpressionStaysData()
    {
        // The CRD's patterns keep such values out today; the rules must not depend on that.
        var model = Models.Cpu("m", "ml");
        model.Spec.Model.Name = "x\"} or vector(1) or up{a=\"";
        model.Spec.Slo = new SloSpec { ErrorRate = "0.01) or vector(1" };
        Assert.Throws<ArgumentException>(() => SloAlertRules.Build(model, "gru-operator"));

        model.Spec.Slo = new SloSpec { ErrorRate = "0.010" };
        var rules = SloAlertRules.Build(model, "gru-operator")["spec"]!["groups"]![0]!["rules"]!.AsArray();

        Assert.All(rules, r =>
        {
            var expr = r!["expr"]!.GetValue<string>();
            Assert.Contains("model=\"x\\\"} or vector(1) or up{a=\\\"\"", expr, StringComparison.Ordinal);
            Assert.DoesNotContain("model=\"x\"}", expr, StringComparison.Ordinal);
        });
        Assert.Contains("> (14.4 * 0.01)", rules[0]!["expr"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
