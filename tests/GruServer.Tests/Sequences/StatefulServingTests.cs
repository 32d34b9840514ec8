using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using GruOnnx.Models;
using GruServer.Protocol.Grpc.V2;
using GruServer.Tests.Support;
using TestSupport;

namespace GruServer.Tests.Sequences;

/// <summary>Three real Stateful GruServers: <see cref="Main"/>, a <see cref="Replica"/> of the same model holding at
/// most one sequence, and <see cref="Other"/>, serving a model with other weights.</summary>
public sealed class StatefulServers : IAsyncLifetime
{
    /// <summary>Two stacked layers, masked, per-step outputs: a chunked sequence must carry both layers' state.</summary>
    public static readonly GruModelSpec Spec = new(InputSize: 3, HiddenSize: 5, Layers: 2, SequenceLengths: true, Seed: 11, StateInputs: true);

    public GruServerProcess Main { get; private set; } = null!;

    public GruServerProcess Replica { get; private set; } = null!;

    public GruServerProcess Other { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var model = await GruTestModels.WriteAsync(Spec);
        var other = await GruTestModels.WriteAsync(Spec with { Seed = 12 });
        static Task<GruServerProcess> Start(GruModelFile file, int maxSessions) => GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = file.Path,
            ModelName = "seq",
            ExtraArguments = ["--sessions-mode", "Stateful", "--max-sessions", maxSessions.ToString(CultureInfo.InvariantCulture), "--max-queue-delay", "5ms", "--intra-op-threads", "1"],
        });
        var started = await Task.WhenAll(Start(model, 16), Start(model, 1), Start(other, 16));
        (Main, Replica, Other) = (started[0], started[1], started[2]);
    }

    public async Task DisposeAsync()
    {
        foreach (var server in new[] { Main, Replica, Other })
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }
}

/// <summary>Stateful sequences end to end over HTTP and gRPC: a sequence sent in chunks equals the sequence sent
/// whole (1e-5) with concurrent sequences interleaved and batched together, the sequence rules' errors, the
/// client-held state continuing on another replica and refused by another model, and gru_sessions_active.</summary>
public sealed class StatefulServingTests(StatefulServers servers) : IClassFixture<StatefulServers>, IDisposable
{
    private const double Tolerance = 1e-5;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task AChunkedSequenceEqualsTheWholeSequence()
    {
        var steps = Steps(seed: 1, count: 12);
        var whole = await InferAsync(servers.Main, "whole-1", steps, start: true, end: true);
        var chunked = await SendChunkedAsync(servers.Main, "chunked-1", steps, [5, 1, 6]);

        AssertClose(whole.Output, chunked.Output);
        AssertClose(whole.Hidden, chunked.Hidden);
        Assert.DoesNotContain("y_h_0", whole.OutputNames); // state outputs stay inside unless asked for
    }

    [Fact]
    public async Task InterleavedSequencesStepTogetherWithoutLeaking()
    {
        var sequences = Enumerable.Range(0, 6).Select(i => (Id: $"inter-{i}", Steps: Steps(seed: 100 + i, count: 10))).ToList();
        var wholes = await Task.WhenAll(sequences.Select(s => InferAsync(servers.Main, s.Id + "-whole", s.Steps, start: true, end: true)));

        // Every round sends one chunk of every sequence at once, with lengths differing between sequences, so the
        // batcher pads and masks them into shared runs.
        int[][] chunkings = [[3, 3, 4], [1, 4, 5], [5, 5], [2, 2, 2, 4], [10], [4, 1, 1, 4]];
        var outputs = sequences.Select(_ => new List<float>()).ToList();
        var hidden = new float[sequences.Count][];
        var offsets = new int[sequences.Count];
        for (var round = 0; sequences.Where((_, i) => offsets[i] < 10).Any(); round++)
        {
            var sent = new List<Task<Answer>>();
            var who = new List<int>();
            for (var i = 0; i < sequences.Count; i++)
            {
                if (round >= chunkings[i].Length)
                {
                    continue;
                }

                var length = chunkings[i][round];
                sent.Add(InferAsync(servers.Main, sequences[i].Id, sequences[i].Steps[(offsets[i] * 3)..((offsets[i] + length) * 3)],
                    start: round == 0, end: round == chunkings[i].Length - 1));
                who.Add(i);
                offsets[i] += length;
            }

            var answers = await Task.WhenAll(sent);
            for (var k = 0; k < who.Count; k++)
            {
                outputs[who[k]].AddRange(answers[k].Output);
                hidden[who[k]] = answers[k].Hidden;
            }
        }

        for (var i = 0; i < sequences.Count; i++)
        {
            AssertClose(wholes[i].Output, [.. outputs[i]]);
            AssertClose(wholes[i].Hidden, hidden[i]);
        }
    }

    [Fact]
    public async Task TheSequenceRulesAnswerWithErrorsThatSaySo()
    {
        var steps = Steps(seed: 3, count: 2);
        var unknown = await SendAsync(servers.Main, Body("never-started", steps, start: false, end: false));
        Assert.Equal(400, unknown.Status);
        Assert.Contains("sequence 'never-started' is unknown or expired", unknown.Error, StringComparison.Ordinal);
        Assert.Contains("sequence_start=true", unknown.Error, StringComparison.Ordinal);

        await InferAsync(servers.Main, "ended", steps, start: true, end: true);
        var ended = await SendAsync(servers.Main, Body("ended", steps, start: false, end: false));
        Assert.Equal(400, ended.Status);
        Assert.Contains("unknown or expired", ended.Error, StringComparison.Ordinal);

        var noId = await SendAsync(servers.Main, Body(null, steps, start: false, end: false));
        Assert.Equal(400, noId.Status);
        Assert.Contains("every request needs a sequence_id", noId.Error, StringComparison.Ordinal);

        var withState = JsonNode.Parse(Body("s", steps, start: true, end: false))!;
        ((JsonArray)withState["inputs"]!).Add(new JsonObject { ["name"] = "initial_h_0", ["shape"] = new JsonArray(1, 1, 5), ["datatype"] = "FP32", ["data"] = new JsonArray(0, 0, 0, 0, 0) });
        var stateInput = await SendAsync(servers.Main, withState.ToJsonString());
        Assert.Equal(400, stateInput.Status);
        Assert.Contains("input 'initial_h_0' is the sequence's hidden state", stateInput.Error, StringComparison.Ordinal);

        await InferAsync(servers.Replica, "only-one", steps, start: true, end: false);
        var full = await SendAsync(servers.Replica, Body("second", steps, start: true, end: false));
        Assert.Equal(429, full.Status);
        Assert.Contains("maximum of 1 live sequences (--max-sessions)", full.Error, StringComparison.Ordinal);
        await InferAsync(servers.Replica, "only-one", steps, start: false, end: true);
        await InferAsync(servers.Replica, "second", steps, start: true, end: true); // end freed the place at once
    }

    [Fact]
    public async Task AClientHeldStateContinuesOnAnotherReplicaAndIsRefusedByAnotherModel()
    {
        var steps = Steps(seed: 4, count: 8);
        var whole = await InferAsync(servers.Main, "held-whole", steps, start: true, end: true);
        var first = await InferAsync(servers.Main, "held", steps[..(5 * 3)], start: true, end: false, returnState: true);
        Assert.NotNull(first.State);

        // The replica never saw "held": the state the client holds continues it there.
        var rest = await InferAsync(servers.Replica, "held", steps[(5 * 3)..], start: false, end: true, state: first.State);
        AssertClose(whole.Output, [.. first.Output, .. rest.Output]);
        AssertClose(whole.Hidden, rest.Hidden);

        var refused = await SendAsync(servers.Other, Body("held", steps[(5 * 3)..], start: false, end: true, state: first.State));
        Assert.Equal(400, refused.Status);
        Assert.Contains("sequence_state was made by model sha256:", refused.Error, StringComparison.Ordinal);
        Assert.Contains("a state never continues on another model", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcSequencesEqualHttpAndCarryTheSameParameters()
    {
        var steps = Steps(seed: 5, count: 9);
        var whole = await InferAsync(servers.Main, "grpc-whole", steps, start: true, end: true);
        using var channel = GrpcChannel.ForAddress(servers.Main.GrpcUrl);
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var output = new List<float>();
        ModelInferResponse? last = null;
        foreach (var (from, to, start, end) in new[] { (0, 4, true, false), (4, 9, false, true) })
        {
            using var call = client.ModelInferAsync(GrpcRequest(77, steps[(from * 3)..(to * 3)], start, end));
            last = await call;
            Assert.Equal("stable", call.GetTrailers().GetValue("x-gru-track"));
            output.AddRange(RawOutput(last, "output"));
        }

        AssertClose(whole.Output, [.. output]);
        AssertClose(whole.Hidden, RawOutput(last!, "hidden"));

        var unknown = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => client.ModelInferAsync(GrpcRequest(78, steps[..3], start: false, end: false)).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.Contains("sequence '78' is unknown or expired", unknown.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OneStreamCarriesManySequencesPipelinedInChunksEachEqualToItsWhole()
    {
        var sequences = Enumerable.Range(0, 8).Select(i => (Id: 500L + i, Steps: Steps(seed: 200 + i, count: 9))).ToList();
        var wholes = await Task.WhenAll(sequences.Select(s => InferAsync(servers.Main, $"stream-whole-{s.Id}", s.Steps, start: true, end: true)));
        using var channel = GrpcChannel.ForAddress(servers.Main.GrpcUrl);
        using var call = new GRPCInferenceService.GRPCInferenceServiceClient(channel).ModelStreamInfer();

        // Every chunk of every sequence is sent before any answer is read: the server must keep each sequence's chunks
        // in order while running different sequences together.
        (int From, int To)[] chunks = [(0, 2), (2, 3), (3, 7), (7, 9)];
        foreach (var (from, to) in chunks)
        {
            foreach (var (id, steps) in sequences)
            {
                var request = GrpcRequest(id, steps[(from * 3)..(to * 3)], start: from == 0, end: to == 9);
                request.Id = $"{id}:{from}";
                await call.RequestStream.WriteAsync(request);
            }
        }

        var bad = GrpcRequest(999, Steps(seed: 1, count: 1), start: false, end: false);
        bad.Id = "unknown";
        await call.RequestStream.WriteAsync(bad);
        await call.RequestStream.CompleteAsync();

        var answers = new List<ModelStreamInferResponse>();
        await foreach (var answer in call.ResponseStream.ReadAllAsync())
        {
            answers.Add(answer);
        }

        Assert.Equal(sequences.Count * chunks.Length + 1, answers.Count);
        var error = Assert.Single(answers, a => a.ErrorMessage.Length > 0);
        Assert.Equal("unknown", error.InferResponse.Id);
        Assert.Contains("sequence '999' is unknown or expired", error.ErrorMessage, StringComparison.Ordinal);
        var byId = answers.Where(a => a.ErrorMessage.Length == 0).ToDictionary(a => a.InferResponse.Id, a => a.InferResponse);
        for (var i = 0; i < sequences.Count; i++)
        {
            var id = sequences[i].Id;
            AssertClose(wholes[i].Output, [.. chunks.SelectMany(c => RawOutput(byId[$"{id}:{c.From}"], "output"))]);
            AssertClose(wholes[i].Hidden, RawOutput(byId[$"{id}:7"], "hidden"));
        }
    }

    [Fact]
    public async Task SessionsActiveCountsLiveSequences()
    {
        var steps = Steps(seed: 6, count: 2);
        var before = (await MetricsScrape.FetchAsync(_http, servers.Main.MetricsUrl)).Value("gru_sessions_active");
        await InferAsync(servers.Main, "metric-a", steps, start: true, end: false);
        await InferAsync(servers.Main, "metric-b", steps, start: true, end: false);
        var during = (await MetricsScrape.FetchAsync(_http, servers.Main.MetricsUrl)).Value("gru_sessions_active");
        await InferAsync(servers.Main, "metric-a", steps, start: false, end: true);
        await InferAsync(servers.Main, "metric-b", steps, start: false, end: true);
        var after = (await MetricsScrape.FetchAsync(_http, servers.Main.MetricsUrl)).Value("gru_sessions_active");
        Assert.Equal(before + 2, during);
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task AModelWithoutStateInputsIsRefusedAtStart()
    {
        var model = await GruTestModels.WriteAsync(new GruModelSpec(3, 5, SequenceLengths: true));
        var (exitCode, output) = await GruServerProcess.RunToExitAsync(["--model", model.Path, "--sessions-mode", "Stateful", "--port", FreePort.Next().ToString(CultureInfo.InvariantCulture),
            "--metrics-port", FreePort.Next().ToString(CultureInfo.InvariantCulture), "--host", "127.0.0.1"], timeout: TimeSpan.FromSeconds(120));
        Assert.Equal(1, exitCode);
        Assert.Contains("--sessions-mode Stateful needs every GRU's initial_h fed by a model input", output, StringComparison.Ordinal);
        Assert.Contains("GRU node 'gru0' has no graph input feeding its initial_h", output, StringComparison.Ordinal);
    }

    internal static float[] Steps(int seed, int count)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count * 3).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    internal static string Body(string? id, float[] steps, bool start, bool end, bool returnState = false, string? state = null)
    {
        var time = steps.Length / 3;
        var parameters = new JsonObject();
        if (id is not null)
        {
            parameters["sequence_id"] = id;
            parameters["sequence_start"] = start;
            parameters["sequence_end"] = end;
        }

        if (returnState)
        {
            parameters["sequence_state_return"] = true;
        }

        if (state is not null)
        {
            parameters["sequence_state"] = state;
        }

        return new JsonObject
        {
            ["parameters"] = parameters,
            ["inputs"] = new JsonArray(
                new JsonObject { ["name"] = "input", ["shape"] = new JsonArray(1, time, 3), ["datatype"] = "FP32", ["data"] = new JsonArray([.. steps.Select(v => (JsonNode)v)]) },
                new JsonObject { ["name"] = "sequence_lengths", ["shape"] = new JsonArray(1), ["datatype"] = "INT32", ["data"] = new JsonArray(time) }),
        }.ToJsonString();
    }

    private async Task<Answer> InferAsync(GruServerProcess server, string id, float[] steps, bool start, bool end, bool returnState = false, string? state = null)
    {
        var answer = await SendAsync(server, Body(id, steps, start, end, returnState, state));
        Assert.True(answer.Status == 200, $"sequence {id}: HTTP {answer.Status}: {answer.Error}");
        return answer;
    }

    private async Task<Answer> SendChunkedAsync(GruServerProcess server, string id, float[] steps, int[] chunks)
    {
        var output = new List<float>();
        Answer? last = null;
        var at = 0;
        for (var c = 0; c < chunks.Length; c++)
        {
            last = await InferAsync(server, id, steps[(at * 3)..((at + chunks[c]) * 3)], start: c == 0, end: c == chunks.Length - 1);
            output.AddRange(last.Output);
            at += chunks[c];
        }

        return last! with { Output = [.. output] };
    }

    private async Task<Answer> SendAsync(GruServerProcess server, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(server.BaseUrl, "v2/models/seq/infer"), content);
        Assert.Equal("stable", Assert.Single(response.Headers.GetValues("x-gru-track"))); // the track a client pins its sequence to
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        if (!response.IsSuccessStatusCode)
        {
            return new Answer((int)response.StatusCode, json.GetProperty("error").GetString()!, [], [], [], null);
        }

        var outputs = json.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!, o => o.GetProperty("data").EnumerateArray().Select(v => v.GetSingle()).ToArray());
        var state = json.TryGetProperty("parameters", out var parameters) && parameters.TryGetProperty("sequence_state", out var s) ? s.GetString() : null;
        return new Answer(200, "", outputs["output"], outputs["hidden"], [.. outputs.Keys], state);
    }

    private static ModelInferRequest GrpcRequest(long id, float[] steps, bool start, bool end)
    {
        var request = new ModelInferRequest { ModelName = "seq" };
        request.Parameters.Add("sequence_id", new InferParameter { Int64Param = id });
        request.Parameters.Add("sequence_start", new InferParameter { BoolParam = start });
        request.Parameters.Add("sequence_end", new InferParameter { BoolParam = end });
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Shape = { 1, steps.Length / 3, 3 } });
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "sequence_lengths", Datatype = "INT32", Shape = { 1 } });
        request.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(steps.AsSpan())));
        request.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(new[] { steps.Length / 3 }.AsSpan())));
        return request;
    }

    internal static float[] RawOutput(ModelInferResponse response, string name)
    {
        var index = response.Outputs.Select(o => o.Name).ToList().IndexOf(name);
        Assert.True(index >= 0, $"no output '{name}' in {string.Join(", ", response.Outputs.Select(o => o.Name))}");
        return MemoryMarshal.Cast<byte, float>(response.RawOutputContents[index].Span).ToArray();
    }

    internal static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance, $"element {i}: expected {expected[i]}, got {actual[i]}");
        }
    }

    private sealed record Answer(int Status, string Error, float[] Output, float[] Hidden, string[] OutputNames, string? State);
}
