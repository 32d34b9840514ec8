using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using GruOnnx.Models;
using GruServer.Bench;
using Microsoft.ML.OnnxRuntime;
using TestSupport;

// Latency: one infer request through GruServer (a separate process) over HTTP/JSON, HTTP/binary and gRPC vs
// InferenceSession.Run on the same model and input in this process (the floor): the ratio is what the serving layer
// costs. Sequential requests, batch 1. Throughput (Throughput.cs): 1, 8, 32 and 128 concurrent clients with the
// dynamic batcher on and off vs raw ORT at that batch. ORT settings (OrtSettings.cs): spinning and intra-op threads.
var outputDirectory = args.Length > 1 && args[0] == "--output" ? args[1] : "bench/results";
// Streaming (Streaming.cs): Stateful sequences stepped one time step per request over HTTP and the gRPC stream.
// --only latency|throughput|ort|streaming runs one of the measurements; all by default.
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
var repositoryRoot = Repository.Root;
Directory.CreateDirectory(Path.Combine(repositoryRoot, outputDirectory));

var sampleModel = Repository.SampleModelPath;
var large = await GruTestModels.WriteAsync(new GruModelSpec(InputSize: 64, HiddenSize: 256, SequenceLengths: true, DenseOutputs: 8, Seed: 3));
var largeTimeMajor = await GruTestModels.WriteAsync(large.Spec with { TimeMajor = true });
var cases = new[]
{
    new BenchCase("sample model (I=8, H=32, 2 layers, head 4), T=20", sampleModel, new GruModelSpec(8, 32, Layers: 2, LinearBeforeReset: true, SequenceLengths: true, DenseOutputs: 4), Steps: 20, Iterations: 3000),
    new BenchCase("I=64, H=256, T=100, batch-major (1 layer, head 8)", large.Path, large.Spec, Steps: 100, Iterations: 800),
    new BenchCase("I=64, H=256, T=100, time-major (1 layer, head 8)", largeTimeMajor.Path, largeTimeMajor.Spec, Steps: 100, Iterations: 800),
};

if (only is null or "latency")
{
    var results = new List<BenchResult>();
    foreach (var benchCase in cases)
    {
        Console.WriteLine($"== {benchCase.Name}");
        var body = GruTestModels.InferRequestJson(benchCase.Spec, batch: 1, steps: benchCase.Steps, seed: 11);
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = benchCase.ModelPath,
            ModelName = "bench",
            ExtraArguments = ["--max-sequence-length", "1024"],
        });
        using var direct = new DirectRunner(benchCase, body);
        var runners = ProtocolRunner.All(server, benchCase, body).Concat(ProtocolRunner.Floors(server)).ToList();

        // Alternate direct, the protocols and the no-op floors in rounds so load from anything else falls on each alike.
        const int rounds = 10;
        var perRound = benchCase.Iterations / rounds;
        var directTimings = new List<double>();
        var timings = runners.ToDictionary(r => r.Name, _ => new List<double>());
        // What the server itself measured for each protocol's requests (gru_request_duration, arrival to answer;
        // gru_queue_wait; gru_model_run_duration), so the report can split a protocol's time into the server's part and the rest.
        using var metricsClient = new HttpClient();
        var serverTimes = runners.ToDictionary(r => r.Name, _ => ServerTimes.Zero);
        // Warm-up until tiered JIT has settled (Throughput.WarmUp), every runner in turn.
        var warmUntil = Stopwatch.GetTimestamp() + (long)(Throughput.WarmUp.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < warmUntil)
        {
            direct.Measure(perRound / 5);
            foreach (var runner in runners)
            {
                await MeasureAsync(runner, perRound / 5);
            }
        }

        for (var round = 0; round < rounds; round++)
        {
            directTimings.AddRange(direct.Measure(perRound));
            foreach (var runner in runners)
            {
                var before = await ServerTimes.ReadAsync(metricsClient, server.MetricsUrl);
                timings[runner.Name].AddRange(await MeasureAsync(runner, perRound));
                serverTimes[runner.Name] += await ServerTimes.ReadAsync(metricsClient, server.MetricsUrl) - before;
            }
        }

        var result = new BenchResult(benchCase.Name, directTimings.Count, Encoding.UTF8.GetByteCount(body), Percentiles.Of([.. directTimings]),
            timings.ToDictionary(t => t.Key, t => Percentiles.Of([.. t.Value])),
            serverTimes.Where(t => t.Value.Requests > 0).ToDictionary(t => t.Key, t => new ServerSide(t.Value.MeanRequestMs, t.Value.MeanQueueMs, t.Value.MeanRunMs)),
            JsonReadFloor(Encoding.UTF8.GetBytes(body)));
        Console.WriteLine(FormattableString.Invariant($"   direct p50 {result.Direct.P50:F3} ms; ") +
            string.Join("; ", result.Protocols.Select(p => FormattableString.Invariant($"{p.Key} p50 {p.Value.P50:F3} ms ({p.Value.P50 / result.Direct.P50:F2}x)"))));
        results.Add(result);
        foreach (var runner in runners)
        {
            runner.Dispose();
        }
    }

    var report = Report(results);
    var path = Path.Combine(repositoryRoot, outputDirectory, "gruserver-latency.md");
    await File.WriteAllTextAsync(path, report);
    await File.WriteAllTextAsync(Path.ChangeExtension(path, ".json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine(report);
    Console.WriteLine($"written: {path}");
}

if (only is null or "ort")
{
    Console.WriteLine("== ORT settings");
    var ortReport = OrtSettings.Measure(cases[1], TimeSpan.FromSeconds(3));
    var ortPath = Path.Combine(repositoryRoot, outputDirectory, "gruserver-ort-settings.md");
    await File.WriteAllTextAsync(ortPath, ortReport);
    Console.WriteLine(ortReport);
    Console.WriteLine($"written: {ortPath}");
}

if (only is null or "throughput")
{
    // Every case's model masks padding (sequence_lengths), as a served GRU should; the batcher then batches freely.
    Console.WriteLine("== throughput");
    var throughput = new List<ThroughputResult>();
    foreach (var benchCase in cases)
    {
        Console.WriteLine($"== {benchCase.Name}");
        throughput.AddRange(await Throughput.MeasureAsync(benchCase, TimeSpan.FromSeconds(5)));
    }

    var throughputReport = Throughput.Report(throughput);
    var throughputPath = Path.Combine(repositoryRoot, outputDirectory, "gruserver-throughput.md");
    await File.WriteAllTextAsync(throughputPath, throughputReport);
    await File.WriteAllTextAsync(Path.ChangeExtension(throughputPath, ".json"), JsonSerializer.Serialize(throughput, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine(throughputReport);
    Console.WriteLine($"written: {throughputPath}");
}

if (only is null or "streaming")
{
    Console.WriteLine("== Stateful streaming");
    var streaming = new List<StreamingResult>();
    foreach (var sequences in new[] { 1, 32 })
    {
        streaming.Add(await Streaming.MeasureAsync(sequences, TimeSpan.FromSeconds(5)));
    }

    var streamingReport = Streaming.Report(streaming);
    var streamingPath = Path.Combine(repositoryRoot, outputDirectory, "gruserver-streaming.md");
    await File.WriteAllTextAsync(streamingPath, streamingReport);
    await File.WriteAllTextAsync(Path.ChangeExtension(streamingPath, ".json"), JsonSerializer.Serialize(streaming, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine(streamingReport);
    Console.WriteLine($"written: {streamingPath}");
}

return 0;

static double JsonReadFloor(byte[] body)
{
    var timings = new List<double>();
    var sink = 0.0;
    for (var i = 0; i < 300; i++)
    {
        var start = Stopwatch.GetTimestamp();
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.Number)
            {
                sink += reader.GetDouble();
            }
        }

        timings.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }

    GC.KeepAlive(sink);
    return Percentiles.Of([.. timings.Skip(100)]).P50;
}

static async Task<List<double>> MeasureAsync(ProtocolRunner runner, int iterations)
{
    var timings = new List<double>(iterations);
    for (var i = 0; i < iterations; i++)
    {
        var start = Stopwatch.GetTimestamp();
        await runner.InferAsync();
        timings.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }

    return timings;
}

static string Report(IReadOnlyList<BenchResult> results)
{
    var text = new StringBuilder();
    text.AppendLine("# GruServer: one infer over HTTP/JSON, HTTP/binary and gRPC vs direct InferenceSession.Run (the floor)");
    text.AppendLine();
    text.AppendLine(Throughput.Machine());
    text.AppendLine("Batch 1, sequential requests over a kept-alive connection on 127.0.0.1 from this process to GruServer running as its own process;");
    text.AppendLine("direct and the three protocols alternate in 10 rounds after a warm-up, so background load falls on each alike.");
    text.AppendLine("Direct (the floor) is InferenceSession.Run in this process with the server's session options, input tensors created and outputs copied out as a server must.");
    text.AppendLine("Each protocol includes the client's encoding and decoding, loopback, parsing, validation, the batcher hand-off, metrics and the response.");
    text.AppendLine("p99 on this shared 2-core machine is dominated by whatever else runs; p50 is the comparable figure. Ratios are p50 over the direct p50.");
    text.AppendLine("No-op: the transport alone on the same connection (GET /v2/health/live; gRPC ServerLive). Mean ms \"server of client\": the mean of the server's own");
    text.AppendLine("gru_request_duration for that protocol's requests (from reading the request to the answer written; for HTTP after Kestrel parsed the headers) beside");
    text.AppendLine("the client's mean for the same requests: the difference is loopback, framing and the client. Queue: gru_queue_wait, the batcher hand-off;");
    text.AppendLine("run: gru_model_run_duration, ONNX Runtime inside the server (compare with direct). JSON read floor: System.Text.Json's Utf8JsonReader");
    text.AppendLine("reading the JSON request's tokens and numbers in the bench process and nothing else, the least a server built on it spends decoding that body.");
    text.AppendLine();
    text.AppendLine("| model | iterations | JSON request bytes | direct p50 ms | direct p99 ms | JSON p50 ms | JSON ratio | binary p50 ms | binary ratio | gRPC p50 ms | gRPC ratio | JSON p99 ms | binary p99 ms | gRPC p99 ms | HTTP no-op p50 ms | gRPC no-op p50 ms | JSON mean ms: server of client | binary mean ms: server of client | gRPC mean ms: server of client | JSON read floor ms |");
    text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    foreach (var r in results)
    {
        ServerSide Server(string protocol) => r.Server.GetValueOrDefault(protocol, new ServerSide(double.NaN, double.NaN, double.NaN));
        var (json, binary, grpc) = (r.Protocols["HTTP/JSON"], r.Protocols["HTTP/binary"], r.Protocols["gRPC"]);
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {r.Model} | {r.Iterations} | {r.RequestBytes} | {r.Direct.P50:F3} | {r.Direct.P99:F3} | {json.P50:F3} | {json.P50 / r.Direct.P50:F2}x | {binary.P50:F3} | {binary.P50 / r.Direct.P50:F2}x | {grpc.P50:F3} | {grpc.P50 / r.Direct.P50:F2}x | {json.P99:F3} | {binary.P99:F3} | {grpc.P99:F3} | {r.Protocols["HTTP no-op"].P50:F3} | {r.Protocols["gRPC no-op"].P50:F3} | {Server("HTTP/JSON")} of {json.Mean:F3} | {Server("HTTP/binary")} of {binary.Mean:F3} | {Server("gRPC")} of {grpc.Mean:F3} | {r.JsonReadMs:F3} |");
    }

    return text.ToString();
}

namespace GruServer.Bench
{
    internal sealed record BenchCase(string Name, string ModelPath, GruModelSpec Spec, int Steps, int Iterations);

    internal sealed record Percentiles(double P50, double P99, double Mean)
    {
        public static Percentiles Of(double[] timings)
        {
            var sorted = timings.Order().ToArray();
            double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
            return new Percentiles(At(0.50), At(0.99), sorted.Average());
        }
    }

    /// <param name="JsonReadMs">Median time System.Text.Json's Utf8JsonReader takes to read the JSON request's tokens and numbers (as doubles) in
    /// this process, nothing else: the least any server built on it spends decoding that body.</param>
    internal sealed record BenchResult(
        string Model, int Iterations, int RequestBytes, Percentiles Direct, Dictionary<string, Percentiles> Protocols, Dictionary<string, ServerSide> Server, double JsonReadMs);

    /// <summary>Means the server measured for one protocol's requests: arrival to answer, queued for the batcher, and the model run.</summary>
    internal sealed record ServerSide(double RequestMs, double QueueMs, double RunMs)
    {
        public override string ToString() => FormattableString.Invariant($"{RequestMs:F3} (queue {QueueMs:F3}, run {RunMs:F3})");
    }

    /// <summary>Running totals of the server's gru_request_duration, gru_queue_wait and gru_model_run_duration histograms, from its /metrics.</summary>
    internal readonly record struct ServerTimes(double Requests, double RequestSeconds, double Queued, double QueueSeconds, double Runs, double RunSeconds)
    {
        public static ServerTimes Zero => default;

        public double MeanRequestMs => RequestSeconds / Requests * 1000;

        public double MeanQueueMs => Queued == 0 ? 0 : QueueSeconds / Queued * 1000;

        public double MeanRunMs => Runs == 0 ? 0 : RunSeconds / Runs * 1000;

        public static ServerTimes operator +(ServerTimes a, ServerTimes b) =>
            new(a.Requests + b.Requests, a.RequestSeconds + b.RequestSeconds, a.Queued + b.Queued, a.QueueSeconds + b.QueueSeconds, a.Runs + b.Runs, a.RunSeconds + b.RunSeconds);

        public static ServerTimes operator -(ServerTimes a, ServerTimes b) =>
            new(a.Requests - b.Requests, a.RequestSeconds - b.RequestSeconds, a.Queued - b.Queued, a.QueueSeconds - b.QueueSeconds, a.Runs - b.Runs, a.RunSeconds - b.RunSeconds);

        public static async Task<ServerTimes> ReadAsync(HttpClient http, Uri metricsUrl)
        {
            var m = await ServerMetrics.ReadAsync(http, metricsUrl);
            return new(m.Sum("gru_request_duration_seconds_count"), m.Sum("gru_request_duration_seconds_sum"), m.Sum("gru_queue_wait_seconds_count"), m.Sum("gru_queue_wait_seconds_sum"),
                m.Sum("gru_model_run_duration_seconds_count"), m.Sum("gru_model_run_duration_seconds_sum"));
        }
    }

    /// <summary>One scrape of GruServer's /metrics (Prometheus text), read as totals per sample name over all its series.</summary>
    internal sealed class ServerMetrics(string[] lines)
    {
        public static async Task<ServerMetrics> ReadAsync(HttpClient http, Uri metricsUrl) => new((await http.GetStringAsync(metricsUrl)).Split('\n'));

        public double Sum(string name) => lines.Where(l => l.StartsWith(name + "{", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[^1], CultureInfo.InvariantCulture));
    }

    /// <summary>InferenceSession.Run in-process on the same input, decoded once up front: it pays only for the run,
    /// input tensor creation and copying the outputs out, as a server must.</summary>
    internal sealed class DirectRunner : IDisposable
    {
        private readonly BenchCase _case;
        private readonly float[] _x;
        private readonly int[]? _lengths;
        private readonly SessionOptions _options = Backends.OnnxModelBackend.SessionOptionsFor(new(GruServing.Contract.Serving.ExecutionProvider.CPU, Axes.TensorAxesOverride.None));
        private readonly InferenceSession _session;
        private readonly string[] _outputNames;

        public DirectRunner(BenchCase benchCase, string body)
        {
            _case = benchCase;
            var inputs = JsonDocument.Parse(body).RootElement.GetProperty("inputs");
            _x = [.. inputs[0].GetProperty("data").EnumerateArray().Select(v => v.GetSingle())];
            _lengths = inputs.GetArrayLength() > 1 ? [.. inputs[1].GetProperty("data").EnumerateArray().Select(v => v.GetInt32())] : null;
            _session = new InferenceSession(File.ReadAllBytes(benchCase.ModelPath), _options);
            _outputNames = [.. _session.OutputNames];
        }

        public List<double> Measure(int iterations)
        {
            var timings = new List<double>(iterations);
            var sink = 0f;
            for (var i = 0; i < iterations; i++)
            {
                var start = Stopwatch.GetTimestamp();
                sink += Run();
                timings.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            GC.KeepAlive(sink);
            return timings;
        }

        public void Dispose()
        {
            _session.Dispose();
            _options.Dispose();
        }

        private float Run()
        {
            using var runOptions = new RunOptions();
            using var input = OrtValue.CreateTensorValueFromMemory(_x, _case.Spec.TimeMajor ? [_case.Steps, 1, _case.Spec.InputSize] : [1, _case.Steps, _case.Spec.InputSize]);
            using var sequenceLengths = _lengths is null ? null : OrtValue.CreateTensorValueFromMemory(_lengths, [1]);
            var names = _lengths is null ? new[] { GruModelNames.Input } : [GruModelNames.Input, GruModelNames.SequenceLengths];
            var values = sequenceLengths is null ? new[] { input } : [input, sequenceLengths];
            using var results = _session.Run(runOptions, names, values, _outputNames);
            return results.Sum(r => r.GetTensorDataAsSpan<float>().ToArray()[0]);
        }
    }

}
