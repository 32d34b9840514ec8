using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using GruOnnx.Models;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Batching;

/// <summary>Dynamic batching in the real server over HTTP: concurrent requests share model runs (seen in
/// gru_batch_size), and a full queue answers 503 with Retry-After.</summary>
public sealed class BatchingServerTests
{
    [Fact]
    public async Task ConcurrentRequestsShareModelRunsAndEachGetsItsOwnAnswer()
    {
        const int clients = 16;
        var model = await GruTestModels.WriteAsync();
        // A long queue delay makes the sharing independent of how fast requests arrive: the first waits for the rest.
        await using var server = await Start(model, "--max-batch-size", "8", "--max-queue-delay", "2s");
        using var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        var bodies = Enumerable.Range(0, clients).Select(i => GruTestModels.InferRequestJson(model.Spec, steps: 2 + i % 5, seed: i)).ToList();
        var alone = new List<string>();
        foreach (var body in bodies.Take(2))
        {
            alone.Add(await OutputAsync(http, body));
        }

        var before = await MetricsScrape.FetchAsync(http, server.MetricsUrl);
        var together = await Task.WhenAll(bodies.Select(b => OutputAsync(http, b)));
        var after = await MetricsScrape.FetchAsync(http, server.MetricsUrl);

        var runs = after.Value("gru_batch_size_count") - before.Value("gru_batch_size_count");
        var sequences = after.Value("gru_batch_size_sum") - before.Value("gru_batch_size_sum");
        Assert.Equal(clients, sequences);
        Assert.InRange(runs, 2, clients - 1);
        Assert.True(after.Value("gru_batch_size_bucket", ("le", "1")) - before.Value("gru_batch_size_bucket", ("le", "1")) < runs,
            "some model run carried more than one sequence");
        Assert.Equal(after.Value("gru_batch_size_count"), after.Value("gru_batch_size_bucket", ("le", "8"))); // never above --max-batch-size
        Assert.Equal(clients, after.Value("gru_queue_wait_seconds_count") - before.Value("gru_queue_wait_seconds_count"));
        Assert.Equal(0, after.Value("gru_queue_depth"));
        for (var i = 0; i < alone.Count; i++)
        {
            AssertClose(alone[i], together[i]);
        }
    }

    [Fact]
    public async Task AFullQueueAnswers503WithRetryAfterAtOnce()
    {
        // A slow model (long sequences, wide state) and a queue of one: while one request runs and one waits,
        // the rest of a burst is refused.
        var model = await GruTestModels.WriteAsync(new GruModelSpec(InputSize: 4, HiddenSize: 256, SequenceLengths: true, Seed: 3));
        await using var server = await Start(model, "--max-batch-size", "1", "--max-queue-delay", "0ms", "--max-queue-size", "1", "--max-sequence-length", "4000");
        using var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(120) };
        var body = GruTestModels.InferRequestJson(model.Spec, steps: 4000);

        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(async _ =>
        {
            using var response = await http.PostAsync($"v2/models/gru/infer", new StringContent(body, Encoding.UTF8, "application/json"));
            return (response.StatusCode, RetryAfter: response.Headers.RetryAfter?.Delta, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"{r.StatusCode}: {r.Body}"));
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(refused);
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(refused, r =>
        {
            Assert.Equal(TimeSpan.FromSeconds(1), r.RetryAfter);
            Assert.Contains("queue is full", JsonDocument.Parse(r.Body).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        });
        var metrics = await MetricsScrape.FetchAsync(http, server.MetricsUrl);
        Assert.Equal(refused.Count, metrics.Value("gru_requests_total", ("code", "503"), ("source", "live")));
    }

    private static Task<GruServerProcess> Start(GruModelFile model, params string[] arguments) =>
        GruServerProcess.StartAsync(new GruServerStartOptions { ModelPath = model.Path, ModelName = "gru", ExtraArguments = arguments });

    private static async Task<string> OutputAsync(HttpClient http, string body)
    {
        using var response = await http.PostAsync("v2/models/gru/infer", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return text;
    }

    private static void AssertClose(string expected, string actual)
    {
        static double[] Values(string json) => [.. JsonDocument.Parse(json).RootElement.GetProperty("outputs").EnumerateArray()
            .SelectMany(o => o.GetProperty("data").EnumerateArray().Select(v => v.GetDouble()))];
        var e = Values(expected);
        var a = Values(actual);
        Assert.Equal(e.Length, a.Length);
        Assert.All(e.Zip(a), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5, string.Create(CultureInfo.InvariantCulture, $"{p.First} vs {p.Second}")));
    }
}
