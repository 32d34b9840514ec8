using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using GruOnnx.Models;
using GruServer.Mirroring;
using GruServer.Tests.Sequences;
using GruServer.Tests.Support;
using GruServing.Contract.Serving;
using TestSupport;

namespace GruServer.Tests.Mirroring;

/// <summary>Real GruServers on 127.0.0.1: <see cref="Twin"/> and <see cref="Other"/> are canaries (the same model; other
/// weights), <see cref="ToTwin"/> and <see cref="ToOther"/> stable servers mirroring every request to them; and a
/// Stateful pair, <see cref="SequencesToTwin"/> mirroring half of its sequences to <see cref="SequenceTwin"/>.</summary>
public sealed class ShadowServers : IAsyncLifetime
{
    public GruServerProcess Twin { get; private set; } = null!;

    public GruServerProcess Other { get; private set; } = null!;

    public GruServerProcess ToTwin { get; private set; } = null!;

    public GruServerProcess ToOther { get; private set; } = null!;

    public GruServerProcess SequenceTwin { get; private set; } = null!;

    public GruServerProcess SequencesToTwin { get; private set; } = null!;

    public GruModelFile Model { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Model = await GruTestModels.WriteAsync();
        var other = await GruTestModels.WriteAsync(GruTestModels.Small with { Seed = 8 });
        var sequences = await GruTestModels.WriteAsync(StatefulServers.Spec);
        static Task<GruServerProcess> Start(GruModelFile file, string track, string[] extra) => GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = file.Path,
            ModelName = "m",
            Track = track,
            Revision = track == "stable" ? "1" : "2",
            ExtraArguments = [.. extra, "--intra-op-threads", "1"],
        });
        string[] stateful = ["--sessions-mode", "Stateful", "--max-queue-delay", "1ms"];
        var canaries = await Task.WhenAll(Start(Model, "canary", []), Start(other, "canary", []), Start(sequences, "canary", stateful));
        (Twin, Other, SequenceTwin) = (canaries[0], canaries[1], canaries[2]);
        string[] Mirror(GruServerProcess target, string sample) =>
            ["--mirror-url", target.BaseUrl.GetLeftPart(UriPartial.Authority), "--mirror-sample", sample, "--mirror-max-rate", "10000"];
        var stables = await Task.WhenAll(Start(Model, "stable", Mirror(Twin, "1")), Start(Model, "stable", Mirror(Other, "1")),
            Start(sequences, "stable", [.. stateful, .. Mirror(SequenceTwin, "0.5")]));
        (ToTwin, ToOther, SequencesToTwin) = (stables[0], stables[1], stables[2]);
    }

    public async Task DisposeAsync()
    {
        foreach (var server in new[] { ToTwin, ToOther, SequencesToTwin, Twin, Other, SequenceTwin })
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }
}

/// <summary>Mirroring end to end: the client gets stable's answer, the canary counts copies as source="mirror" and
/// none as live, the same model diverges by nothing and other weights by a lot, binary requests are copied as binary,
/// and a Stateful sequence is copied whole (its chunks match the canary's to the last step) or not at all.</summary>
public sealed class ShadowTrafficTests(ShadowServers servers) : IClassFixture<ShadowServers>, IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task TheSameModelAnswersTheSameAndTheCanaryCountsTheCopiesAsMirror()
    {
        var canaryBefore = await ScrapeAsync(servers.Twin);
        var stableBefore = await ScrapeAsync(servers.ToTwin);
        const int requests = 6;
        for (var i = 0; i < requests; i++)
        {
            var response = await PostAsync(servers.ToTwin, GruTestModels.InferRequestJson(servers.Model.Spec, batch: 2, seed: 40 + i, id: $"same-{i}"));
            Assert.Equal("stable", response.Track);
            Assert.Equal(200, response.Status);
        }

        await Eventually.TrueAsync(async () => Delta(await ScrapeAsync(servers.ToTwin), stableBefore, ShadowTraffic.ComparedMetric, "output", GruModelNames.Output) == requests,
            "stable compared every copy with the canary's answer");
        var stable = await ScrapeAsync(servers.ToTwin);
        var canary = await ScrapeAsync(servers.Twin);

        Assert.Equal(requests, Delta(canary, canaryBefore, "gru_requests_total", "source", "mirror", "code", "200"));
        Assert.Equal(0, Delta(canary, canaryBefore, "gru_requests_total", "source", "live"));
        // Identical weights on the same CPU: every request within the smallest bucket, and the class always agrees.
        Assert.Equal(requests, Delta(stable, stableBefore, ShadowTraffic.AbsDiffMetric + "_bucket", "output", "output", "le", DivergenceBuckets.LeLabel(1e-7)));
        Assert.Equal(requests, Delta(stable, stableBefore, ShadowTraffic.ArgMaxAgreedMetric, "output", "output"));
        Assert.Equal(requests, Delta(stable, stableBefore, ShadowTraffic.ArgMaxComparedMetric, "output", "output"));
        Assert.Equal(0, Delta(stable, stableBefore, ShadowTraffic.ErrorsMetric));
        Assert.Equal(0, Delta(stable, stableBefore, ShadowTraffic.DroppedMetric));
    }

    [Fact]
    public async Task OtherWeightsDivergeAndTheExporterWritesTheGridsLeLabels()
    {
        var before = await ScrapeAsync(servers.ToOther);
        const int requests = 5;
        for (var i = 0; i < requests; i++)
        {
            Assert.Equal(200, (await PostAsync(servers.ToOther, GruTestModels.InferRequestJson(servers.Model.Spec, batch: 3, seed: 60 + i))).Status);
        }

        await Eventually.TrueAsync(async () => Delta(await ScrapeAsync(servers.ToOther), before, ShadowTraffic.ComparedMetric, "output", GruModelNames.Output) == requests,
            "stable compared every copy with the other canary's answer");
        var after = await ScrapeAsync(servers.ToOther);

        var les = after.Find(ShadowTraffic.AbsDiffMetric + "_bucket", ("output", "output")).Select(s => s.Labels["le"]).ToList();
        Assert.Equal([.. DivergenceBuckets.Bounds.Select(DivergenceBuckets.LeLabel), "+Inf"], les);
        // Other weights: no request is within 1e-3 of stable, though both answer fast and without errors.
        Assert.Equal(0, Delta(after, before, ShadowTraffic.AbsDiffMetric + "_bucket", "output", "output", "le", DivergenceBuckets.LeLabel(1e-3)));
        Assert.Equal(requests, Delta(after, before, ShadowTraffic.AbsDiffMetric + "_count", "output", "output"));
        Assert.True(Delta(after, before, ShadowTraffic.RelDiffMetric + "_sum", "output", "output") / requests > 0.05);
    }

    [Fact]
    public async Task BinaryRequestsAreCopiedAsBinary()
    {
        var before = await ScrapeAsync(servers.ToTwin);
        var canaryBefore = await ScrapeAsync(servers.Twin);
        var spec = servers.Model.Spec;
        var values = Enumerable.Range(0, 2 * 5 * spec.InputSize).Select(i => (float)Math.Sin(i)).ToArray();
        var raw = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        var lengths = new byte[8];
        BitConverter.TryWriteBytes(lengths.AsSpan(0, 4), 5);
        BitConverter.TryWriteBytes(lengths.AsSpan(4, 4), 5);
        var header = Encoding.UTF8.GetBytes(
            $"{{\"inputs\":[{{\"name\":\"{GruModelNames.Input}\",\"shape\":[2,5,{spec.InputSize}],\"datatype\":\"FP32\",\"parameters\":{{\"binary_data_size\":{raw.Length}}}}}," +
            $"{{\"name\":\"{GruModelNames.SequenceLengths}\",\"shape\":[2],\"datatype\":\"INT32\",\"parameters\":{{\"binary_data_size\":8}}}}]," +
            "\"parameters\":{\"binary_data_output\":true}}");
        using var content = new ByteArrayContent([.. header, .. raw, .. lengths]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(CultureInfo.InvariantCulture));
        using var response = await _http.PostAsync(new Uri(servers.ToTwin.BaseUrl, "v2/models/m/infer"), content);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);

        await Eventually.TrueAsync(async () => Delta(await ScrapeAsync(servers.ToTwin), before, ShadowTraffic.ComparedMetric, "output", GruModelNames.Output) == 1,
            "stable compared the binary copy");
        var after = await ScrapeAsync(servers.ToTwin);
        Assert.Equal(1, Delta(after, before, ShadowTraffic.AbsDiffMetric + "_bucket", "output", "output", "le", DivergenceBuckets.LeLabel(1e-7)));
        Assert.Equal(1, Delta(await ScrapeAsync(servers.Twin), canaryBefore, "gru_requests_total", "source", "mirror", "code", "200"));
    }

    [Fact]
    public async Task StatefulSequencesAreCopiedWholeOrNotAtAll()
    {
        var before = await ScrapeAsync(servers.SequencesToTwin);
        var canaryBefore = await ScrapeAsync(servers.SequenceTwin);
        var ids = Enumerable.Range(0, 12).Select(i => $"mirror-seq-{i}").ToList();
        int[] chunks = [3, 2, 4];
        foreach (var id in ids)
        {
            var steps = StatefulServingTests.Steps(seed: 500 + ids.IndexOf(id), count: chunks.Sum());
            var at = 0;
            for (var c = 0; c < chunks.Length; c++)
            {
                var body = StatefulServingTests.Body(id, steps[(at * 3)..((at + chunks[c]) * 3)], start: c == 0, end: c == chunks.Length - 1);
                Assert.Equal(200, (await PostAsync(servers.SequencesToTwin, body)).Status);
                at += chunks[c];
            }
        }

        var sampled = ids.Count(id => MirrorSampler.IncludesSequence(id, 0.5));
        Assert.InRange(sampled, 1, ids.Count - 1); // the fixed ids must exercise both sides of the sample
        var expected = sampled * chunks.Length;
        await Eventually.TrueAsync(async () => Delta(await ScrapeAsync(servers.SequencesToTwin), before, ShadowTraffic.ComparedMetric, "output", GruModelNames.Output) == expected,
            $"stable compared the {expected} requests of the {sampled} sampled sequences");
        var after = await ScrapeAsync(servers.SequencesToTwin);
        var canary = await ScrapeAsync(servers.SequenceTwin);

        Assert.Equal(expected, Delta(canary, canaryBefore, "gru_requests_total", "source", "mirror", "code", "200"));
        Assert.Equal(0, Delta(canary, canaryBefore, "gru_requests_total", "source", "live"));
        // Every chunk after the first matches only if the canary carried the sequence's state from its start, in order.
        Assert.Equal(expected, Delta(after, before, ShadowTraffic.AbsDiffMetric + "_bucket", "output", GruModelNames.Output, "le", DivergenceBuckets.LeLabel(1e-5)));
        Assert.Equal(0, Delta(after, before, ShadowTraffic.ErrorsMetric));
    }

    [Fact]
    public async Task AMirroredRequestIsNeverMirroredOnAndCountsAsMirrorWhereItLands()
    {
        var before = await ScrapeAsync(servers.ToTwin);
        using var content = new StringContent(GruTestModels.InferRequestJson(servers.Model.Spec), Encoding.UTF8, "application/json");
        content.Headers.Add(ShadowTraffic.Header, ShadowTraffic.HeaderValue);
        using var response = await _http.PostAsync(new Uri(servers.ToTwin.BaseUrl, "v2/models/m/infer"), content);
        Assert.Equal(200, (int)response.StatusCode);
        await Task.Delay(300);

        var after = await ScrapeAsync(servers.ToTwin);
        Assert.Equal(1, Delta(after, before, "gru_requests_total", "source", "mirror", "code", "200"));
        Assert.Equal(0, Delta(after, before, ShadowTraffic.ComparedMetric));
    }

    private async Task<(int Status, string? Track)> PostAsync(GruServerProcess server, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(server.BaseUrl, "v2/models/m/infer"), content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return ((int)response.StatusCode, response.Headers.TryGetValues(Tracks.Header, out var track) ? track.Single() : null);
    }

    private Task<MetricsScrape> ScrapeAsync(GruServerProcess server) => MetricsScrape.FetchAsync(_http, server.MetricsUrl);

    /// <summary>Sum over the series of <paramref name="name"/> matching the label pairs, after minus before.</summary>
    private static double Delta(MetricsScrape after, MetricsScrape before, string name, params string[] pairs)
    {
        var labels = pairs.Chunk(2).Select(p => (p[0], p[1])).ToArray();
        return after.Find(name, labels).Sum(s => s.Value) - before.Find(name, labels).Sum(s => s.Value);
    }
}
