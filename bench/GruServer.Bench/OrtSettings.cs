using System.Diagnostics;
using System.Globalization;
using System.Text;
using GruOnnx.Models;
using GruServer.Axes;
using GruServer.Backends;
using Microsoft.ML.OnnxRuntime;

namespace GruServer.Bench;

/// <summary>The session settings GruServer chooses, measured: raw InferenceSession.Run of the medium model at batch 1
/// (latency) and batch 32 (throughput) with ORT's defaults, with spinning off (the server's choice), and with one
/// intra-op thread. A second thread busy with other work stands in for Kestrel reading and answering requests, which is
/// what spinning threads take cores from.</summary>
internal static class OrtSettings
{
    private static readonly (string Name, BackendSettings Settings)[] Variants =
    [
        ("ORT defaults (spinning on, a thread per core)", new BackendSettings(GruServing.Contract.Serving.ExecutionProvider.CPU, TensorAxesOverride.None, Spinning: true)),
        ("spinning off, a thread per core (GruServer's choice)", new BackendSettings(GruServing.Contract.Serving.ExecutionProvider.CPU, TensorAxesOverride.None)),
        ("spinning off, one thread", new BackendSettings(GruServing.Contract.Serving.ExecutionProvider.CPU, TensorAxesOverride.None, IntraOpThreads: 1)),
    ];

    public static string Measure(BenchCase benchCase, TimeSpan window)
    {
        var text = new StringBuilder();
        text.AppendLine("# ONNX Runtime session settings for serving: spinning and intra-op threads");
        text.AppendLine();
        text.AppendLine(Throughput.Machine());
        text.AppendLine(CultureInfo.InvariantCulture, $"Raw InferenceSession.Run of {benchCase.Name}; \"with a busy neighbour\" runs a second thread doing other work at the same time, as request handling does in the server.");
        text.AppendLine("Work done by the neighbour is reported as its loop count per second: what spinning costs the rest of the process.");
        text.AppendLine();
        text.AppendLine("| settings | batch 1 p50 ms | batch 32 seq/s | batch 32 seq/s with a busy neighbour | neighbour loops/s (millions) |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var (name, settings) in Variants)
        {
            using var options = OnnxModelBackend.SessionOptionsFor(settings);
            using var session = new InferenceSession(File.ReadAllBytes(benchCase.ModelPath), options);
            var p50 = Latency(session, benchCase, window);
            var alone = Rate(session, benchCase, 32, window, neighbour: false).Rate;
            var (busy, loops) = Rate(session, benchCase, 32, window, neighbour: true);
            text.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {p50:F3} | {alone:F0} | {busy:F0} | {loops / 1e6:F1} |");
            Console.WriteLine(FormattableString.Invariant($"   {name}: p50 {p50:F3} ms, batch 32 {alone:F0} seq/s, with neighbour {busy:F0} seq/s, neighbour {loops / 1e6:F1} M loops/s"));
        }

        return text.ToString();
    }

    private static double Latency(InferenceSession session, BenchCase benchCase, TimeSpan window)
    {
        var run = Runner(session, benchCase, 1);
        run();
        var timings = new List<double>();
        var stop = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < stop)
        {
            var start = Stopwatch.GetTimestamp();
            run();
            timings.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        return Percentiles.Of([.. timings]).P50;
    }

    private static (double Rate, double NeighbourLoops) Rate(InferenceSession session, BenchCase benchCase, int batch, TimeSpan window, bool neighbour)
    {
        var run = Runner(session, benchCase, batch);
        run();
        using var done = new CancellationTokenSource();
        long loops = 0;
        var busy = neighbour
            ? Task.Factory.StartNew(() =>
            {
                var x = 0.0;
                while (!done.IsCancellationRequested)
                {
                    for (var i = 0; i < 10_000; i++)
                    {
                        x = Math.Sqrt(x + i);
                    }

                    Interlocked.Add(ref loops, 10_000);
                }

                return x;
            }, TaskCreationOptions.LongRunning)
            : Task.FromResult(0.0);
        var start = Stopwatch.GetTimestamp();
        var stop = start + (long)(window.TotalSeconds * Stopwatch.Frequency);
        long runs = 0;
        while (Stopwatch.GetTimestamp() < stop)
        {
            run();
            runs++;
        }

        var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        done.Cancel();
        busy.Wait();
        return (runs * batch / elapsed, Interlocked.Read(ref loops) / elapsed);
    }

    private static Action Runner(InferenceSession session, BenchCase benchCase, int batch)
    {
        var x = new float[batch * benchCase.Steps * benchCase.Spec.InputSize];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)Math.Sin(i);
        }

        var lengths = Enumerable.Repeat(benchCase.Steps, batch).ToArray();
        long[] shape = benchCase.Spec.TimeMajor ? [benchCase.Steps, batch, benchCase.Spec.InputSize] : [batch, benchCase.Steps, benchCase.Spec.InputSize];
        var outputs = session.OutputNames.ToArray();
        return () =>
        {
            using var input = OrtValue.CreateTensorValueFromMemory(x, shape);
            using var sequenceLengths = OrtValue.CreateTensorValueFromMemory(lengths, [batch]);
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, [GruModelNames.Input, GruModelNames.SequenceLengths], [input, sequenceLengths], outputs);
        };
    }
}
