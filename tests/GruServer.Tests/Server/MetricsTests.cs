using GruServing.Contract.Serving;
using System.Net.Http.Headers;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Server;

/// <summary>/metrics carries exactly the names of docs/API.md, every series labelled model, revision and track.</summary>
public sealed class MetricsTests(SmallModelServer fixture) : IClassFixture<SmallModelServer>
{
    private static readonly string[] ContractFamilies =
    [
        "gru_request_duration_seconds histogram", "gru_requests_total counter", "gru_input_schema_errors_total counter",
        "gru_output_mean histogram", "gru_model_info gauge", "gru_fault_injection_active gauge",
    ];

    [Fact]
    public async Task ExportsTheContractNamesWithTheirTypes()
    {
        await fixture.InferAsync(GruTestModels.InferRequestJson(fixture.Spec));
        var metrics = await fixture.ScrapeAsync();

        foreach (var family in ContractFamilies)
        {
            Assert.Contains("# TYPE " + family + "\n", metrics.Text, StringComparison.Ordinal);
        }

        // The exporter appends unit and _total suffixes; the instrument names must not end up doubled.
        Assert.DoesNotContain("_seconds_seconds", metrics.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("_total_total", metrics.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryGruSeriesCarriesModelRevisionAndTrack()
    {
        await fixture.InferAsync(GruTestModels.InferRequestJson(fixture.Spec));
        var metrics = await fixture.ScrapeAsync();

        var gru = metrics.Samples.Where(s => s.Name.StartsWith("gru_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(gru);
        Assert.All(gru, s =>
        {
            Assert.Equal("small", s.Labels["model"]);
            Assert.Equal("3", s.Labels["revision"]);
            Assert.Equal("canary", s.Labels["track"]);
        });
    }

    [Fact]
    public async Task RequestsCountByCodeAndFeedTheDurationAndOutputMeanHistograms()
    {
        var before = await fixture.ScrapeAsync();
        var (status, json) = await fixture.InferAsync(GruTestModels.InferRequestJson(fixture.Spec, batch: 2));
        await fixture.InferAsync("{}", model: "missing");
        var after = await fixture.ScrapeAsync();

        Assert.Equal(200, status);
        var output = json.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).Average();
        Assert.Equal(1, after.Value("gru_requests_total", ("code", "200"), ("source", "live")) - before.Value("gru_requests_total", ("code", "200"), ("source", "live")));
        Assert.Equal(1, after.Value("gru_requests_total", ("code", "404"), ("source", "live")) - before.Value("gru_requests_total", ("code", "404"), ("source", "live")));
        Assert.Equal(2, after.Value("gru_request_duration_seconds_count") - before.Value("gru_request_duration_seconds_count"));
        Assert.Equal(1, after.Value("gru_output_mean_count") - before.Value("gru_output_mean_count"));
        Assert.Equal(output, after.Value("gru_output_mean_sum") - before.Value("gru_output_mean_sum"), 5);
    }

    [Fact]
    public async Task DurationBucketsAreTenADecadeFromHalfAMillisecondToTenSeconds()
    {
        await fixture.InferAsync(GruTestModels.InferRequestJson(fixture.Spec)); // the histogram's series appear with its first request
        var metrics = await fixture.ScrapeAsync();

        var bounds = metrics.Find("gru_request_duration_seconds_bucket").Select(s => s.Labels["le"]).ToList();
        Assert.Equal("0.0005", bounds[0]);
        Assert.Contains("0.2", bounds);
        Assert.Equal("10", bounds[^2]);
        Assert.Equal("+Inf", bounds[^1]);
        Assert.Equal(LatencyBuckets.Standard.Count + 1, bounds.Count);
    }

    [Fact]
    public async Task SeriesExistAtZeroBeforeTheirFirstEvent()
    {
        var metrics = await fixture.ScrapeAsync();

        // Every code the server answers infer requests with, 429 (sessions full) included; other tests may add more.
        Assert.Subset(metrics.Find("gru_requests_total").Select(s => s.Labels["code"]).ToHashSet(), new HashSet<string>(["200", "400", "404", "415", "429", "500", "503"]));
        Assert.Single(metrics.Find("gru_input_schema_errors_total", ("reason", "non_finite")));
        Assert.Single(metrics.Find("gru_fault_injection_active", ("kind", "error")));
        Assert.Equal(1, metrics.Value("gru_model_info", ("digest", "sha256:" + fixture.Model.Sha256), ("execution_provider", "CPU")));
    }

    [Fact]
    public async Task MetricsAreServedOnTheMetricsPortAndOnlyThere()
    {
        using var onInferencePort = await fixture.Http.GetAsync(new Uri(fixture.Server.BaseUrl, "/metrics"));
        using var inferenceOnMetricsPort = await fixture.Http.GetAsync(new Uri(fixture.Server.MetricsUrl, "/v2/health/ready"));
        using var scrape = await fixture.Http.GetAsync(fixture.Server.MetricsUrl);

        Assert.Equal(System.Net.HttpStatusCode.NotFound, onInferencePort.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, inferenceOnMetricsPort.StatusCode);
        Assert.Contains("scrape /metrics", await inferenceOnMetricsPort.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.OK, scrape.StatusCode);
        Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenMetricsScrapesUseTheSameNames()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Server.MetricsUrl);
        request.Headers.Accept.Add(MediaTypeWithQualityHeaderValue.Parse("application/openmetrics-text; version=1.0.0"));
        using var response = await fixture.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Contains("application/openmetrics-text", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var samples = MetricsScrape.Parse(text);
        Assert.NotEmpty(samples.Find("gru_requests_total", ("code", "200")));
        Assert.NotEmpty(samples.Find("gru_request_duration_seconds_bucket"));
        Assert.NotEmpty(samples.Find("gru_input_schema_errors_total"));
    }
}
