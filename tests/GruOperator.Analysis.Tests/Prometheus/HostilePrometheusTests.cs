using GruOperator.Domain.Analysis;
using GruOperator.Providers.Prometheus;
using GruServing.Contract.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TestSupport;
using Xunit.Abstractions;

namespace GruOperator.Analysis.Tests.Prometheus;

/// <summary>
/// Hostile-tenant suite, the Prometheus route, on the real Prometheus of <see cref="SyntheticPrometheusFixture"/>: it
/// scrapes a second namespace whose numbers a model in the first must never read through a custom analysis query.
/// </summary>
[Collection(RealPrometheusCollection.Name)]
public sealed class HostileQueryTests(SyntheticPrometheusFixture fixture)
{
    private static MetricQuery Custom(string template) => new("stolen", new CustomQuery(template),
        new TrackSelector(SyntheticPrometheusFixture.Namespace, "healthy", Track.Canary, "2"), SyntheticPrometheusFixture.WindowEndingNow());

    [Theory]
    [InlineData("sum(analysis_test_other_team_revenue)")]
    [InlineData("sum(analysis_test_other_team_revenue{namespace=\"other-team\"})")]
    [InlineData("sum({__name__=\"analysis_test_other_team_revenue\",namespace=~\".+\"})")]
    [InlineData("sum(label_replace(analysis_test_other_team_revenue, \"namespace\", \"analysis-tests\", \"\", \"\"))")]
    public async Task ACustomQueryReadsNoOtherNamespacesNumbers(string template)
    {
        // Control: the other namespace's series is in this Prometheus, so the assertion below can fail.
        using var http = new HttpClient { BaseAddress = fixture.Prometheus.Address };
        var direct = await http.GetStringAsync("api/v1/query?query=" + Uri.EscapeDataString("sum(analysis_test_other_team_revenue)"));
        Assert.Contains("\"42\"", direct, StringComparison.Ordinal);

        var measurement = await fixture.Provider.MeasureAsync(Custom(template), CancellationToken.None);

        Assert.True(measurement.IsNoData, $"{template}: value {measurement.Value}, error {measurement.Error}");
    }

    [Fact]
    public async Task TheModelsOwnNamespaceStillAnswers()
    {
        var measurement = await fixture.Provider.MeasureAsync(Custom("count(gru_requests_total{model=\"{{model}}\"})"), CancellationToken.None);

        Assert.True(measurement.Value > 0, $"value {measurement.Value}, error {measurement.Error}");
    }
}

/// <summary>Hostile-tenant suite, the Prometheus route, against capture servers: no credential, no body, no memory.</summary>
public sealed class HostilePrometheusTests(ITestOutputHelper output)
{
    private static readonly MetricQuery Query = new("m", new CustomQuery("sum(up)"),
        new TrackSelector("ml", "m", Track.Canary, "2"), AnalysisWindow.Between(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow));

    [Fact]
    public async Task AnAddressOutsideTheAllowedListGetsNoRequestAndNoToken()
    {
        await using var capture = await CaptureServer.StartAsync(context => context.Response.WriteAsync("{}"));
        await using var services = PrometheusServices.Build(new Uri("http://127.0.0.1:9/"),
            new Dictionary<string, string?> { ["Prometheus:BearerToken"] = "the-operators-token" });

        var measurement = await services.GetRequiredService<PrometheusMetricProviderFactory>().Create(capture.Address).MeasureAsync(Query, CancellationToken.None);

        Assert.Empty(capture.Requests);
        Assert.Contains("is not a Prometheus the operator may send its credentials to; use one of http://127.0.0.1:9", measurement.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARedirectIsNotFollowedWithTheToken()
    {
        await using var elsewhere = await CaptureServer.StartAsync(context => context.Response.WriteAsync("{}"));
        await using var allowed = await CaptureServer.StartAsync(context =>
        {
            context.Response.Redirect(new Uri(elsewhere.Address, "api/v1/query").ToString(), permanent: false, preserveMethod: true);
            return Task.CompletedTask;
        });
        await using var services = PrometheusServices.Build(allowed.Address,
            new Dictionary<string, string?> { ["Prometheus:BearerToken"] = "the-operators-token", ["Prometheus:MaxRetries"] = "0" });

        var measurement = await services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null).MeasureAsync(Query, CancellationToken.None);

        Assert.Equal(["Bearer the-operators-token"], allowed.Credentials);
        Assert.Empty(elsewhere.Requests);
        Assert.Contains("HTTP 307", measurement.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHugeAnswerFailsTheMeasurementAtTheLimit()
    {
        const long huge = 400L << 20;
        var sent = 0L;
        await using var allowed = await CaptureServer.StartAsync(async context =>
        {
            await CaptureServer.WriteHugeBodyAsync(context, huge);
            Interlocked.Exchange(ref sent, huge);
        });
        await using var services = PrometheusServices.Build(allowed.Address, new Dictionary<string, string?>
        {
            ["Prometheus:MaxResponseBytes"] = (1 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Prometheus:MaxRetries"] = "0",
        });
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var measurement = await services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null).MeasureAsync(Query, CancellationToken.None);

        var allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / (1024.0 * 1024.0);
        output.WriteLine($"allocated {allocated:0} MiB (whole test process) while a Prometheus answered up to {huge >> 20} MiB");
        Assert.Contains("answered more than 1048576 bytes (Prometheus:MaxResponseBytes)", measurement.Error, StringComparison.Ordinal);
        Assert.True(allocated < huge >> 21, $"{allocated:0} MiB allocated while reading a {huge >> 20} MiB answer through a 1 MiB limit");
    }
}
