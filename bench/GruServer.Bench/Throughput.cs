using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using GruOnnx.Models;
using Microsoft.ML.OnnxRuntime;
using TestSupport;

namespace GruServer.Bench;

/// <summary>One row of the throughput table: sequences per second through GruServer with the batcher on and off,
/// and raw ONNX Runtime at a batch as large as the client count.</summary>
/// <remarks>CPU columns: microseconds of CPU per sequence with batching on, in the server and in the client loops (this
/// process), and in raw ORT's own runs; cores / (server + client) is the most seq/s the CPUs allow with both here.</remarks>
internal sealed record ThroughputResult(string Model, int Clients, double BatchingOn, double BatchingOff, double RawOrt, double MeanBatchOn, CpuPerStep OnCpu, double RawOrtCpuMicros);

/// <summary>Throughput under concurrent load: <c>clients</c> loops each sending one sequence per request (HTTP with the
/// binary tensor extension) to a real GruServer (a separate process) for a fixed time, batcher on (--max-batch-size 128,
/// --max-queue-delay 2ms) and off (--max-batch-size 1), against InferenceSession.Run in this process at batch = clients
/// with the server's session options, the ceiling batching can approach.</summary>
internal static class Throughput
{
    public static readonly int[] ClientCounts = [1, 8, 32, 128];

    /// <summary>Load before any window is measured. A new .NET process spends its first seconds under load compiling:
    /// measured on the server at 32 clients, the tiered-JIT thread took 23% of its CPU samples 10 s after start and
    /// under 1% from 25 s on; a window inside that would charge the compiler to the requests.</summary>
    public static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(20);

    public static async Task<List<ThroughputResult>> MeasureAsync(BenchCase benchCase, TimeSpan window)
    {
        var body = GruTestModels.InferRequestJson(benchCase.Spec, batch: 1, steps: benchCase.Steps, seed: 11);
        var on = await ServerRatesAsync(benchCase, body, window, ["--max-batch-size", "128", "--max-queue-delay", "2ms"]);
        var off = await ServerRatesAsync(benchCase, body, window, ["--max-batch-size", "1", "--max-queue-delay", "0ms"]);
        var results = new List<ThroughputResult>();
        foreach (var clients in ClientCounts)
        {
            using var self = Process.GetCurrentProcess();
            var cpuBefore = self.TotalProcessorTime;
            var raw = RawOrtRate(benchCase, clients, window);
            self.Refresh();
            var rawCpu = (self.TotalProcessorTime - cpuBefore).TotalSeconds * 1e6 / (raw * window.TotalSeconds);
            results.Add(new ThroughputResult(benchCase.Name, clients, on[clients].Rate, off[clients].Rate, raw, on[clients].MeanBatch, on[clients].Cpu, rawCpu));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {clients} clients: batching on {on[clients].Rate:F0} seq/s (mean batch {on[clients].MeanBatch:F1}), off {off[clients].Rate:F0}, raw ORT batch {clients} {raw:F0}; CPU µs/seq on: server {on[clients].Cpu.ServerMicros:F0} + client {on[clients].Cpu.ClientMicros:F0}, raw ORT {rawCpu:F0}"));
        }

        return results;
    }

    /// <summary>When and where a figure was measured, with the load average: both reports start with it.</summary>
    public static string Machine()
    {
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        return string.Create(CultureInfo.InvariantCulture,
            $"Measured {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores (load average {load} at the end), {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}, CPU execution provider.");
    }

    public static string Report(IReadOnlyList<ThroughputResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("# GruServer throughput: concurrent clients, batching on vs off vs raw ONNX Runtime");
        text.AppendLine();
        text.AppendLine(Machine());
        text.AppendLine("Each client sends one sequence per request (HTTP with the binary tensor extension, kept-alive connections, 127.0.0.1) in a loop for a fixed window; the server is a separate process.");
        text.AppendLine("On: --max-batch-size 128 --max-queue-delay 2ms. Off: --max-batch-size 1. Raw ORT: InferenceSession.Run in the bench process at batch = clients, with the server's session options (spinning off, one intra-op thread per core).");
        text.AppendLine("Ratios are GruServer seq/s over raw ORT seq/s at that batch size. The client loops share the machine's cores with the server, raw ORT does not.");
        text.AppendLine("With 1 client, on and off do the same work (nothing to batch): their on/off ratio shows this run's noise.");
        text.AppendLine("CPU µs/seq (on): CPU time of the server process and of the client loops (this process) per sequence served, and of raw ORT's own runs per sequence;");
        text.AppendLine("ceiling: cores / (server + client), the most seq/s this machine's CPUs allow with client and server sharing them.");
        text.AppendLine();
        text.AppendLine("| model | clients | on seq/s | mean batch (on) | off seq/s | raw ORT seq/s | on / raw | off / raw | on / off | CPU µs/seq on: server + client | raw ORT CPU µs/seq | CPU ceiling seq/s (on) |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Model} | {r.Clients} | {r.BatchingOn:F0} | {r.MeanBatchOn:F1} | {r.BatchingOff:F0} | {r.RawOrt:F0} | {r.BatchingOn / r.RawOrt:F2} | {r.BatchingOff / r.RawOrt:F2} | {r.BatchingOn / r.BatchingOff:F2}x | {r.OnCpu.ServerMicros:F0} + {r.OnCpu.ClientMicros:F0} | {r.RawOrtCpuMicros:F0} | {r.OnCpu.Ceiling:F0} |");
        }

        return text.ToString();
    }

    private static async Task<Dictionary<int, (double Rate, double MeanBatch, CpuPerStep Cpu)>> ServerRatesAsync(BenchCase benchCase, string body, TimeSpan window, string[] flags)
    {
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = benchCase.ModelPath,
            ModelName = "bench",
            ExtraArguments = ["--max-sequence-length", "1024", "--max-queue-size", "1024", .. flags],
        });
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256 };
        using var http = new HttpClient(handler) { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        var runner = ProtocolRunner.All(server, benchCase, body, http).Single(r => r.Name == "HTTP/binary");
        // Warm-up with batches forming, so tiered JIT has compiled the batching path before the first window.
        await LoadAsync(runner, 8, WarmUp);
        var rates = new Dictionary<int, (double, double, CpuPerStep)>();
        foreach (var clients in ClientCounts)
        {
            var before = await BatchCountsAsync(http, server.MetricsUrl);
            var (sent, cpu) = await CpuPerStep.MeasureAsync(server.ProcessId, () => LoadAsync(runner, clients, window));
            var after = await BatchCountsAsync(http, server.MetricsUrl);
            rates[clients] = (sent / window.TotalSeconds, (after.Sequences - before.Sequences) / Math.Max(1, after.Runs - before.Runs), cpu);
        }

        return rates;
    }

    /// <summary>Requests <paramref name="clients"/> closed loops of <paramref name="runner"/> complete in <paramref name="window"/>.</summary>
    internal static async Task<long> LoadAsync(ProtocolRunner runner, int clients, TimeSpan window)
    {
        var stop = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var counts = await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            long done = 0;
            while (Stopwatch.GetTimestamp() < stop)
            {
                await runner.InferAsync();
                done++;
            }

            return done;
        }));
        return counts.Sum();
    }

    /// <summary>Model runs and the sequences in them so far, from the server's gru_batch_size histogram.</summary>
    internal static async Task<(double Runs, double Sequences)> BatchCountsAsync(HttpClient http, Uri metricsUrl)
    {
        var totals = await ServerMetrics.ReadAsync(http, metricsUrl);
        return (totals.Sum("gru_batch_size_count"), totals.Sum("gru_batch_size_sum"));
    }

    private static double RawOrtRate(BenchCase benchCase, int batch, TimeSpan window)
    {
        using var options = Backends.OnnxModelBackend.SessionOptionsFor(new(GruServing.Contract.Serving.ExecutionProvider.CPU, Axes.TensorAxesOverride.None));
        using var session = new InferenceSession(File.ReadAllBytes(benchCase.ModelPath), options);
        var random = new Random(11);
        var x = new float[batch * benchCase.Steps * benchCase.Spec.InputSize];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(random.NextDouble() * 2 - 1);
        }

        var lengths = Enumerable.Repeat(benchCase.Steps, batch).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(x, benchCase.Spec.TimeMajor ? [benchCase.Steps, batch, benchCase.Spec.InputSize] : [batch, benchCase.Steps, benchCase.Spec.InputSize]);
        using var sequenceLengths = OrtValue.CreateTensorValueFromMemory(lengths, [batch]);
        using var runOptions = new RunOptions();
        var outputNames = session.OutputNames.ToArray();
        void RunOnce()
        {
            using var results = session.Run(runOptions, [GruModelNames.Input, GruModelNames.SequenceLengths], [input, sequenceLengths], outputNames);
        }

        return RunsPerSecond(RunOnce, window) * batch;
    }

    /// <summary>Runs of <paramref name="runOnce"/> per second over <paramref name="window"/>, after one warm-up run.</summary>
    internal static double RunsPerSecond(Action runOnce, TimeSpan window)
    {
        runOnce();
        var stop = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var start = Stopwatch.GetTimestamp();
        long runs = 0;
        while (Stopwatch.GetTimestamp() < stop)
        {
            runOnce();
            runs++;
        }

        return runs / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }
}
