using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using GruServer.Tests.Support;
using TestSupport;
using static GruServer.Tests.Sequences.StatefulServingTests;

namespace GruServer.Tests.Sequences;

/// <summary>
/// A terminating Stateful GruServer loses no sequence: after SIGTERM it refuses new sequences (503, Retry-After,
/// connection closed), keeps serving the live ones with every answer handing the client its state
/// (<c>sequence_handoff</c>), stops once they ended or at <c>--sequence-drain-timeout</c>, and a handed-off state
/// continues the sequence on another replica with the outputs of an uninterrupted run.
/// </summary>
public sealed class SequenceDrainTests : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task A_draining_server_refuses_new_sequences_serves_live_ones_with_their_state_and_stops_when_they_end()
    {
        var model = await GruTestModels.WriteAsync(StatefulServers.Spec);
        await using var draining = await StartAsync(model, "20s");
        await using var replica = await StartAsync(model, "20s");
        var steps = Steps(seed: 7, count: 12);
        var reference = await SendAsync(replica, Body("reference", steps, start: true, end: true));

        var first = await SendAsync(draining, Body("live", steps[..(4 * 3)], start: true, end: false));
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Null(first.State); // not asked for, not draining: the state stays on the server
        draining.SendSigTerm();
        await Eventually.TrueAsync(() => Task.FromResult(draining.Output.Contains("no new sequence is taken", StringComparison.Ordinal)), "the drain to start");

        var refused = await SendAsync(draining, Body("new", steps[..3], start: true, end: false));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("1", refused.RetryAfter);
        Assert.True(refused.ConnectionClose, "a refused new sequence's connection is closed so its retry reaches another replica");
        Assert.Contains("shutting down and takes no new sequence", refused.Error, StringComparison.Ordinal);

        var handed = await SendAsync(draining, Body("live", steps[(4 * 3)..(8 * 3)], start: false, end: false));
        Assert.Equal(HttpStatusCode.OK, handed.Status);
        Assert.True(handed.Handoff);
        Assert.NotNull(handed.State);
        Assert.False(draining.HasExited, "a live sequence keeps the server up within --sequence-drain-timeout");
        var metrics = await MetricsScrape.FetchAsync(_http, draining.MetricsUrl);
        Assert.Equal(1, metrics.Value("gru_sequences_draining"));
        Assert.Equal(1, metrics.Value("gru_sequence_handoffs_total"));
        Assert.Equal(1, metrics.Value("gru_sessions_active"));

        // The client continues on the replica from the handed state: the outputs are the uninterrupted run's.
        var continued = await SendAsync(replica, Body("live", steps[(8 * 3)..], start: false, end: true, state: handed.State));
        Assert.Equal(HttpStatusCode.OK, continued.Status);
        Assert.False(continued.Handoff);
        AssertClose(reference.Output, [.. first.Output, .. handed.Output, .. continued.Output]);

        // The sequence ends on the draining server too: nothing is live, so it stops long before the 20s.
        var ended = await SendAsync(draining, Body("live", steps[(8 * 3)..], start: false, end: true));
        Assert.Equal(HttpStatusCode.OK, ended.Status);
        Assert.Equal(0, await draining.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("Sequence drain over", draining.Output, StringComparison.Ordinal);
        Assert.Contains(": 0 sequences still live", draining.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sequence_still_live_at_the_drain_timeout_was_handed_to_its_client_and_the_server_stops()
    {
        var model = await GruTestModels.WriteAsync(StatefulServers.Spec);
        await using var draining = await StartAsync(model, "3s");
        var steps = Steps(seed: 8, count: 4);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(draining, Body("idle", steps[..3], start: true, end: false))).Status);

        draining.SendSigTerm();
        await Eventually.TrueAsync(() => Task.FromResult(draining.Output.Contains("no new sequence is taken", StringComparison.Ordinal)), "the drain to start");
        var handed = await SendAsync(draining, Body("idle", steps[3..6], start: false, end: false));
        Assert.True(handed.Handoff);
        Assert.NotNull(handed.State);

        Assert.Equal(0, await draining.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains(": 1 sequences still live", draining.Output, StringComparison.Ordinal);
    }

    private static Task<GruServerProcess> StartAsync(GruModelFile model, string drainTimeout) => GruServerProcess.StartAsync(new GruServerStartOptions
    {
        ModelPath = model.Path,
        ModelName = "seq",
        ExtraArguments = ["--sessions-mode", "Stateful", "--max-queue-delay", "1ms", "--intra-op-threads", "1", "--sequence-drain-timeout", drainTimeout],
    });

    private async Task<Answer> SendAsync(GruServerProcess server, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(server.BaseUrl, "v2/models/seq/infer"), content);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var retryAfter = response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(CultureInfo.InvariantCulture);
        var close = response.Headers.ConnectionClose == true;
        if (!response.IsSuccessStatusCode)
        {
            return new Answer(response.StatusCode, json.GetProperty("error").GetString()!, [], null, false, retryAfter, close);
        }

        var output = json.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("name").GetString() == "output")
            .GetProperty("data").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var parameters = json.TryGetProperty("parameters", out var p) ? p : default;
        var state = parameters.ValueKind == JsonValueKind.Object && parameters.TryGetProperty("sequence_state", out var s) ? s.GetString() : null;
        var handoff = parameters.ValueKind == JsonValueKind.Object && parameters.TryGetProperty("sequence_handoff", out var h) && h.GetBoolean();
        return new Answer(response.StatusCode, "", output, state, handoff, retryAfter, close);
    }

    private sealed record Answer(HttpStatusCode Status, string Error, float[] Output, string? State, bool Handoff, string? RetryAfter, bool ConnectionClose);
}
