using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using GruOnnx.Models;
using GruServer.Bench;
using Microsoft.ML.OnnxRuntime;
using TestSupport;

// Latency: one infer request through GruServer (HTTP/JSON, validation, metrics) vs InferenceSession.Run on the same
// model and input in-process: the ratio is what the serving layer costs. Sequential requests, batch 1.
// Throughput (Throughput.cs): 1, 8 and 32 concurrent clients with the dynamic batcher on and off vs raw ORT at that batch.
var outputDirectory = args.Length > 1 && args[0] == "--output" ? args[1] : "bench/results";
// --only latency|throughput runs one of the two measurements; both by default.
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
var repositoryRoot = Repository.Root;
Directory.CreateDirectory(Path.Combine(repositoryRoot, outputDirectory));

var sampleModel = Repository.SampleModelPath;
var large = await GruTestModels.WriteAsync(new GruModelSpec(InputSize: 64, HiddenSize: 256, SequenceLengths: true, DenseOutputs: 8, Seed: 3));
var cases = new[]
{
    new BenchCase("sample model (I=8, H=32, 2 layers, head 4), T=20", sampleModel, new GruModelSpec(8, 32, Layers: 2, LinearBeforeReset: true, SequenceLengths: true, DenseOutputs: 4), Steps: 20, Iterations: 5000),
    new BenchCase("I=64, H=256, T=100 (1 layer, head 8)", large.Path, large.Spec, Steps: 100, Iterations: 1500),
};

if (only != "throughput")
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
        using var http = new HttpRunner(server, body);

        // Alternate the two in rounds so load from anything else on the machine falls on both alike.
        const int rounds = 10;
        var perRound = benchCase.Iterations / rounds;
        var directTimings = new List<double>();
        var httpTimings = new List<double>();
        direct.Measure(perRound / 5);
        await http.MeasureAsync(perRound / 5);
        for (var round = 0; round < rounds; round++)
        {
            directTimings.AddRange(direct.Measure(perRound));
            httpTimings.AddRange(await http.MeasureAsync(perRound));
        }

        // The server's own view (arrival to response) separates its work from the client and the loopback hop.
        var metrics = await http.ScrapeAsync(server.MetricsUrl);
        var serverMean = 1000 * Sample(metrics, "gru_request_duration_seconds_sum") / Sample(metrics, "gru_request_duration_seconds_count");
        var result = new BenchResult(benchCase.Name, directTimings.Count, Encoding.UTF8.GetByteCount(body),
            Percentiles.Of([.. directTimings]), Percentiles.Of([.. httpTimings]), serverMean);
        Console.WriteLine($"   direct p50 {result.Direct.P50:F3} ms p99 {result.Direct.P99:F3} ms; HTTP p50 {result.Http.P50:F3} ms p99 {result.Http.P99:F3} ms");
        results.Add(result);
    }

    var report = Report(results);
    var path = Path.Combine(repositoryRoot, outputDirectory, "gruserver-latency.md");
    await File.WriteAllTextAsync(path, report);
    await File.WriteAllTextAsync(Path.ChangeExtension(path, ".json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine(report);
    Console.WriteLine($"written: {path}");
}

if (only != "latency")
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

return 0;

static double Sample(string metrics, string name) =>
    double.Parse(metrics.Split('\n').First(l => l.StartsWith(name + "{", StringComparison.Ordinal)).Split(' ')[^1], CultureInfo.InvariantCulture);

static string Report(IReadOnlyList<BenchResult> results)
{
    var text = new StringBuilder();
    text.AppendLine("# GruServer: one infer over HTTP vs direct InferenceSession.Run");
    text.AppendLine();
    text.AppendLine(Throughput.Machine());
    text.AppendLine("Batch 1, sequential requests over a kept-alive connection on 127.0.0.1; direct and HTTP alternate in 10 rounds after a warm-up, so background load falls on both.");
    text.AppendLine("HTTP includes JSON parsing, validation, metrics and response JSON; direct includes input tensor creation and output copy.");
    text.AppendLine("Server-side mean is gru_request_duration_seconds sum/count (arrival to response, warm-up included): the rest of the HTTP time is client and loopback.");
    text.AppendLine("p99 on this shared 2-core machine is dominated by whatever else runs; p50 is the comparable figure.");
    text.AppendLine();
    text.AppendLine("| model | iterations | request bytes | direct p50 ms | direct p99 ms | HTTP p50 ms | HTTP p99 ms | p50 ratio | p99 ratio | p50 overhead ms | HTTP mean ms | server-side mean ms |");
    text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    foreach (var r in results)
    {
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| {r.Model} | {r.Iterations} | {r.RequestBytes} | {r.Direct.P50:F3} | {r.Direct.P99:F3} | {r.Http.P50:F3} | {r.Http.P99:F3} | {r.Http.P50 / r.Direct.P50:F2}x | {r.Http.P99 / r.Direct.P99:F2}x | {r.Http.P50 - r.Direct.P50:F3} | {r.Http.Mean:F3} | {r.ServerMeanMs:F3} |");
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

    internal sealed record BenchResult(string Model, int Iterations, int RequestBytes, Percentiles Direct, Percentiles Http, double ServerMeanMs);

    /// <summary>InferenceSession.Run in-process on the same input, decoded once up front: it pays only for the run,
    /// input tensor creation and copying the outputs out, as a server must.</summary>
    internal sealed class DirectRunner : IDisposable
    {
        private readonly BenchCase _case;
        private readonly float[] _x;
        private readonly int[]? _lengths;
        private readonly SessionOptions _options = new() { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
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
            using var input = OrtValue.CreateTensorValueFromMemory(_x, [1, _case.Steps, _case.Spec.InputSize]);
            using var sequenceLengths = _lengths is null ? null : OrtValue.CreateTensorValueFromMemory(_lengths, [1]);
            var names = _lengths is null ? new[] { GruModelNames.Input } : [GruModelNames.Input, GruModelNames.SequenceLengths];
            var values = sequenceLengths is null ? new[] { input } : [input, sequenceLengths];
            using var results = _session.Run(runOptions, names, values, _outputNames);
            return results.Sum(r => r.GetTensorDataAsSpan<float>().ToArray()[0]);
        }
    }

    /// <summary>Sequential infer requests to a real GruServer over one kept-alive connection.</summary>
    internal sealed class HttpRunner(GruServerProcess server, string body) : IDisposable
    {
        private readonly HttpClient _http = new() { BaseAddress = server.BaseUrl };
        private readonly byte[] _payload = Encoding.UTF8.GetBytes(body);

        public async Task<List<double>> MeasureAsync(int iterations)
        {
            var timings = new List<double>(iterations);
            for (var i = 0; i < iterations; i++)
            {
                using var content = new ByteArrayContent(_payload);
                content.Headers.ContentType = new("application/json");
                var start = Stopwatch.GetTimestamp();
                using var response = await _http.PostAsync("v2/models/bench/infer", content);
                await response.Content.ReadAsByteArrayAsync();
                timings.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                response.EnsureSuccessStatusCode();
            }

            return timings;
        }

        public Task<string> ScrapeAsync(Uri metricsUrl) => _http.GetStringAsync(metricsUrl);

        public void Dispose() => _http.Dispose();
    }
}
