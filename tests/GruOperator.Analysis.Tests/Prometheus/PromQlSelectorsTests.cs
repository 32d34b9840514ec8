using GruOperator.Providers.Prometheus;

namespace GruOperator.Analysis.Tests.Prometheus;

/// <summary>A tenant's custom query reads only its own namespace: every selector is confined, whatever the template says.</summary>
public sealed class PromQlSelectorsTests
{
    private const string Ns = "namespace=\"team-a\"";

    public static TheoryData<string, string, string> Confinements => new()
    {
        { "bare metric", "up", $"up{{{Ns}}}" },
        { "metric with matchers", "up{job=\"x\"}", $"up{{job=\"x\", {Ns}}}" },
        { "their own namespace matcher is replaced", "up{namespace=\"team-b\",job=\"x\"}", $"up{{job=\"x\", {Ns}}}" },
        { "a regex namespace matcher is replaced", "up{namespace=~\".+\"}", $"up{{{Ns}}}" },
        { "a negated one too", "up{namespace!=\"team-a\"}", $"up{{{Ns}}}" },
        { "selector without a name", "{__name__=~\"gru_.*\"}", $"{{__name__=~\"gru_.*\", {Ns}}}" },
        { "empty braces", "up{}", $"up{{{Ns}}}" },
        { "range and function", "rate(x_total[5m])", $"rate(x_total{{{Ns}}}[5m])" },
        { "aggregation label list untouched", "sum by (le, namespace) (rate(h_bucket{a=\"b\"}[1m]))", $"sum by (le, namespace) (rate(h_bucket{{a=\"b\", {Ns}}}[1m]))" },
        { "trailing by clause", "sum(x) without (pod)", $"sum(x{{{Ns}}}) without (pod)" },
        { "binary with on and group_left", "a / on (pod) group_left (node) b", $"a{{{Ns}}} / on (pod) group_left (node) b{{{Ns}}}" },
        { "group_left without list", "a * on (pod) group_left b", $"a{{{Ns}}} * on (pod) group_left b{{{Ns}}}" },
        { "operators and keywords", "a > bool 0 and b or c unless d", $"a{{{Ns}}} > bool 0 and b{{{Ns}}} or c{{{Ns}}} unless d{{{Ns}}}" },
        { "offset and subquery", "max_over_time(x[10m:1m] offset 5m)", $"max_over_time(x{{{Ns}}}[10m:1m] offset 5m)" },
        { "strings and numbers are left alone", "label_replace(up, \"dst\", \"$1\", \"src\", \"(.*)\") * 1e-3", $"label_replace(up{{{Ns}}}, \"dst\", \"$1\", \"src\", \"(.*)\") * 1e-3" },
        { "a brace inside a string", "up{job=\"}{\"}", $"up{{job=\"}}{{\", {Ns}}}" },
        { "no selector at all", "vector(1) + scalar(time())", "vector(1) + scalar(time())" },
        { "recording rule name with colons", "job:latency:p95", $"job:latency:p95{{{Ns}}}" },
        { "comment", "up # the whole cluster\n", $"up{{{Ns}}} # the whole cluster\n" },
        { "quantile with hex and Inf", "histogram_quantile(0.95, x) > 0x10 or x < Inf", $"histogram_quantile(0.95, x{{{Ns}}}) > 0x10 or x{{{Ns}}} < Inf" },
    };

    [Theory]
    [MemberData(nameof(Confinements))]
    public void ConfinesEverySelectorToTheNamespace(string scenario, string query, string expected)
    {
        Assert.True(expected == PromQlSelectors.Confine(query, "namespace", "team-a"), $"{scenario}: {PromQlSelectors.Confine(query, "namespace", "team-a")}");
    }

    [Fact]
    public void TheNamespaceValueIsEscaped()
    {
        Assert.Equal("up{namespace=\"a\\\"} or vector(1)\"}", PromQlSelectors.Confine("up", "namespace", "a\"} or vector(1)"));
    }

    [Theory]
    [InlineData("up{job=\"x\"", "is never closed")]
    [InlineData("up}", "unbalanced '}'")]
    [InlineData("up{job=\"x}", "unterminated string")]
    [InlineData("up{job}", "is not label=\"value\"")]
    [InlineData("up{job=\"a\" namespace=\"b\"}", "expected ','")]
    [InlineData("up{\"quoted\"=\"x\"}", "is not label=\"value\"")]
    [InlineData("up{a=\"1\",{b=\"2\"}}", "is never closed")]
    public void WhatCannotBeConfinedIsRefused(string query, string problem)
    {
        var error = Assert.Throws<PromQlTemplateException>(() => PromQlSelectors.Confine(query, "namespace", "team-a"));
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("namespace", true)]
    [InlineData("_ns1", true)]
    [InlineData("1ns", false)]
    [InlineData("kubernetes.namespace", false)]
    [InlineData("", false)]
    public void LabelNames(string name, bool valid) => Assert.Equal(valid, PromQlSelectors.IsLabelName(name));
}

/// <summary>The operator's Prometheus identity goes only to the addresses its configuration allows.</summary>
public sealed class PrometheusAddressPolicyTests
{
    private static readonly PrometheusAddressPolicy Policy = PrometheusAddressPolicy.From(
        new PrometheusOptions { AllowedAddresses = "https://thanos.monitoring.svc:10902/prom, http://127.0.0.1:9090" },
        "http://prometheus.monitoring.svc:9090");

    [Theory]
    [InlineData("http://prometheus.monitoring.svc:9090", true)]
    [InlineData("http://prometheus.monitoring.svc:9090/", true)]
    [InlineData("http://PROMETHEUS.monitoring.svc:9090", true)]
    [InlineData("http://127.0.0.1:9090/api/", true)]
    [InlineData("https://thanos.monitoring.svc:10902/prom", true)]
    [InlineData("https://thanos.monitoring.svc:10902/prom/x", true)]
    [InlineData("https://thanos.monitoring.svc:10902/prometheus", false)]
    [InlineData("https://thanos.monitoring.svc:10902/", false)]
    [InlineData("http://thanos.monitoring.svc:10902/prom", false)]
    [InlineData("https://prometheus.monitoring.svc:9090", false)]
    [InlineData("http://prometheus.monitoring.svc:9091", false)]
    [InlineData("http://prometheus.monitoring.svc.attacker.example:9090", false)]
    [InlineData("http://user:pw@prometheus.monitoring.svc:9090", false)]
    [InlineData("http://prometheus.monitoring.svc:9090/?x=1", false)]
    [InlineData("http://127.0.0.1:9091", false)]
    public void AllowsOnlyListedAddresses(string address, bool allowed) => Assert.Equal(allowed, Policy.Allows(new Uri(address)));

    [Fact]
    public void ARefusalNamesTheAllowedListAndNeverTheUserInfo()
    {
        var problem = Policy.Problem("http://me:secret@evil.example:80/x?token=abc", "spec.prometheus.address");

        Assert.NotNull(problem);
        Assert.Contains("spec.prometheus.address 'http://evil.example/x?…' is not a Prometheus the operator may send its credentials to", problem, StringComparison.Ordinal);
        Assert.Contains("https://thanos.monitoring.svc:10902/prom, http://127.0.0.1:9090, http://prometheus.monitoring.svc:9090", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("abc", problem, StringComparison.Ordinal);
        Assert.Null(Policy.Problem("http://prometheus.monitoring.svc:9090", "spec.prometheus.address"));
    }
}
