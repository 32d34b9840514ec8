using System.Diagnostics;
using System.Text;
using System.Text.Json;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Server;

/// <summary>--fault-latency and --fault-error-rate do what they say, are logged at start and visible in metrics.</summary>
public sealed class FaultInjectionTests
{
    [Fact]
    public async Task ErrorRateOneFailsEveryInferRequestWith500()
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path, FaultErrorRate = 1 });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        for (var i = 0; i < 5; i++)
        {
            using var response = await PostAsync(http, model);
            Assert.Equal(System.Net.HttpStatusCode.InternalServerError, response.StatusCode);
            Assert.Contains("injected fault", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        var metrics = await MetricsScrape.FetchAsync(http, server.MetricsUrl);
        Assert.Equal(5, metrics.Value("gru_requests_total", ("code", "500"), ("source", "live")));
        Assert.Equal(1, metrics.Value("gru_fault_injection_active", ("kind", "error")));
        Assert.Equal(0, metrics.Value("gru_fault_injection_active", ("kind", "latency")));
        Assert.Contains("FAULT INJECTION ACTIVE", server.Output, StringComparison.Ordinal);
        // Health is not an infer request: probes keep passing so the fault shows in SLOs, not in restarts.
        using var ready = await http.GetAsync("v2/health/ready");
        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task ErrorRateHalfFailsSomeRequestsAndServesOthers()
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path, FaultErrorRate = 0.5 });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        var codes = new List<int>();
        for (var i = 0; i < 40; i++)
        {
            using var response = await PostAsync(http, model);
            codes.Add((int)response.StatusCode);
        }

        // 40 fair coin flips all landing the same way has probability 2^-39.
        Assert.Contains(200, codes);
        Assert.Contains(500, codes);
        Assert.All(codes, c => Assert.True(c is 200 or 500));
        var metrics = await MetricsScrape.FetchAsync(http, server.MetricsUrl);
        Assert.Equal(codes.Count(c => c == 500), metrics.Value("gru_requests_total", ("code", "500"), ("source", "live")));
    }

    [Fact]
    public async Task LatencyDelaysEveryInferRequestAndShowsInTheDurationHistogram()
    {
        var model = await GruTestModels.WriteAsync();
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = model.Path, FaultLatency = "300ms", ExtraArguments = ["--latency-slo-boundaries", "230ms"],
        });
        using var http = new HttpClient { BaseAddress = server.BaseUrl };

        var watch = Stopwatch.StartNew();
        using var response = await PostAsync(http, model);
        watch.Stop();

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(300), $"took {watch.Elapsed}");
        var metrics = await MetricsScrape.FetchAsync(http, server.MetricsUrl);
        Assert.True(metrics.Value("gru_request_duration_seconds_sum") >= 0.3);
        Assert.Equal(0, metrics.Value("gru_request_duration_seconds_bucket", ("le", "0.25")));
        Assert.Equal(0, metrics.Value("gru_request_duration_seconds_bucket", ("le", "0.23"))); // the SLO bound, exact
        Assert.Equal(1, metrics.Value("gru_request_duration_seconds_bucket", ("le", "10")));
        Assert.Equal(1, metrics.Value("gru_fault_injection_active", ("kind", "latency")));
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, GruModelFile model) =>
        http.PostAsync("v2/models/gru/infer", new StringContent(GruTestModels.InferRequestJson(model.Spec), Encoding.UTF8, "application/json"));
}
