using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using GruOnnx.Models;
using GruServer.Protocol.Grpc.V2;
using Microsoft.ML.OnnxRuntime;
using TestSupport;

namespace GruServer.Bench;

/// <summary>One row of the streaming table: steps per second with <c>Sequences</c> concurrent Stateful sequences.</summary>
internal sealed record StreamingResult(string Model, int Sequences, double HttpSteps, double GrpcStreamSteps, double RawOrtSteps, double MeanBatchHttp, double MeanBatchGrpc);

/// <summary>Stateful streaming: <c>sequences</c> clients each step their own sequence one time step per request (closed
/// loop) against a real GruServer with --sessions-mode Stateful (a separate process), over HTTP with the binary tensor
/// extension and over one gRPC ModelStreamInfer stream per sequence; against InferenceSession.Run in this process at
/// batch = sequences with T=1, feeding each run's Y_h back as initial_h (what the server does, without the serving).</summary>
internal static class Streaming
{
    public static readonly GruModelSpec Spec = new(InputSize: 64, HiddenSize: 256, DenseOutputs: 8, Seed: 5, StateInputs: true);

    public static async Task<StreamingResult> MeasureAsync(int sequences, TimeSpan window)
    {
        var model = await GruTestModels.WriteAsync(Spec);
        var name = $"I=64, H=256, 1 layer, head 8, one step per request";
        await using var server = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = model.Path,
            ModelName = "bench",
            ExtraArguments = ["--sessions-mode", "Stateful", "--max-batch-size", "64", "--max-queue-delay", "2ms", "--max-queue-size", "1024"],
        });
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256 };
        using var http = new HttpClient(handler) { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        using var channel = GrpcChannel.ForAddress(server.GrpcUrl);
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);

        await HttpStepsAsync(http, 2, TimeSpan.FromSeconds(1)); // warm-up
        var before = await Throughput.BatchCountsAsync(http, server.MetricsUrl);
        var httpSteps = await HttpStepsAsync(http, sequences, window);
        var middle = await Throughput.BatchCountsAsync(http, server.MetricsUrl);
        var grpcSteps = await GrpcStreamStepsAsync(client, sequences, window);
        var after = await Throughput.BatchCountsAsync(http, server.MetricsUrl);
        var raw = RawOrtSteps(model.Path, sequences, window);
        var result = new StreamingResult(name, sequences, httpSteps / window.TotalSeconds, grpcSteps / window.TotalSeconds, raw,
            (middle.Sequences - before.Sequences) / Math.Max(1, middle.Runs - before.Runs), (after.Sequences - middle.Sequences) / Math.Max(1, after.Runs - middle.Runs));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {sequences} sequences: HTTP/binary {result.HttpSteps:F0} steps/s (mean batch {result.MeanBatchHttp:F1}), gRPC stream {result.GrpcStreamSteps:F0} (mean batch {result.MeanBatchGrpc:F1}), raw ORT batch {sequences} {raw:F0}"));
        return result;
    }

    public static string Report(IReadOnlyList<StreamingResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("# GruServer Stateful streaming: steps/s with concurrent sequences vs raw ONNX Runtime single-step runs");
        text.AppendLine();
        text.AppendLine(Throughput.Machine());
        text.AppendLine("Each sequence is a closed loop sending one time step per request and waiting for its answer; the server keeps every sequence's hidden state");
        text.AppendLine("(--sessions-mode Stateful, --max-batch-size 64, --max-queue-delay 2ms) and steps concurrent sequences as one batch. HTTP: binary tensor extension,");
        text.AppendLine("kept-alive connections. gRPC: one ModelStreamInfer stream per sequence on one HTTP/2 connection. Raw ORT: InferenceSession.Run in the bench");
        text.AppendLine("process at batch = sequences, T=1, initial_h fed from the previous run's Y_h, with the server's session options. Client loops share the cores with the server; raw ORT does not.");
        text.AppendLine();
        text.AppendLine("| model | sequences | HTTP steps/s | mean batch | gRPC stream steps/s | mean batch | raw ORT steps/s | HTTP / raw | gRPC / raw |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Model} | {r.Sequences} | {r.HttpSteps:F0} | {r.MeanBatchHttp:F1} | {r.GrpcStreamSteps:F0} | {r.MeanBatchGrpc:F1} | {r.RawOrtSteps:F0} | {r.HttpSteps / r.RawOrtSteps:F2} | {r.GrpcStreamSteps / r.RawOrtSteps:F2} |");
        }

        return text.ToString();
    }

    private static float[] Step(int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, Spec.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    private static async Task<long> HttpStepsAsync(HttpClient http, int sequences, TimeSpan window)
    {
        var stop = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var run = Guid.NewGuid().ToString("N")[..8];
        var counts = await Task.WhenAll(Enumerable.Range(0, sequences).Select(async s =>
        {
            var x = MemoryMarshal.AsBytes(Step(s).AsSpan()).ToArray();
            long done = 0;
            while (Stopwatch.GetTimestamp() < stop)
            {
                var json = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"parameters\":{{\"sequence_id\":\"{run}-{s}\",\"sequence_start\":{(done == 0 ? "true" : "false")},\"binary_data_output\":true}},\"inputs\":[{{\"name\":\"{GruModelNames.Input}\",\"shape\":[1,1,{Spec.InputSize}],\"datatype\":\"FP32\",\"parameters\":{{\"binary_data_size\":{x.Length}}}}}]}}"));
                using var content = new ByteArrayContent([.. json, .. x]);
                content.Headers.ContentType = new("application/octet-stream");
                using var request = new HttpRequestMessage(HttpMethod.Post, "v2/models/bench/infer") { Content = content };
                request.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", json.Length.ToString(CultureInfo.InvariantCulture));
                using var response = await http.SendAsync(request);
                await response.Content.ReadAsByteArrayAsync();
                response.EnsureSuccessStatusCode();
                done++;
            }

            return done;
        }));
        return counts.Sum();
    }

    private static async Task<long> GrpcStreamStepsAsync(GRPCInferenceService.GRPCInferenceServiceClient client, int sequences, TimeSpan window)
    {
        var stop = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var counts = await Task.WhenAll(Enumerable.Range(0, sequences).Select(async s =>
        {
            using var call = client.ModelStreamInfer();
            var x = ByteString.CopyFrom(MemoryMarshal.AsBytes(Step(s).AsSpan()));
            long done = 0;
            while (Stopwatch.GetTimestamp() < stop)
            {
                var request = new ModelInferRequest { ModelName = "bench" };
                request.Parameters.Add("sequence_id", new InferParameter { Int64Param = 1_000_000 + s });
                request.Parameters.Add("sequence_start", new InferParameter { BoolParam = done == 0 });
                request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = GruModelNames.Input, Datatype = "FP32", Shape = { 1, 1, Spec.InputSize } });
                request.RawInputContents.Add(x);
                await call.RequestStream.WriteAsync(request);
                if (!await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    throw new InvalidOperationException("the stream ended early");
                }

                if (call.ResponseStream.Current.ErrorMessage is { Length: > 0 } error)
                {
                    throw new InvalidOperationException(error);
                }

                done++;
            }

            await call.RequestStream.CompleteAsync();
            return done;
        }));
        return counts.Sum();
    }

    private static double RawOrtSteps(string modelPath, int batch, TimeSpan window)
    {
        using var options = Backends.OnnxModelBackend.SessionOptionsFor(new(GruServing.Contract.Serving.ExecutionProvider.CPU, Axes.TensorAxesOverride.None));
        using var session = new InferenceSession(File.ReadAllBytes(modelPath), options);
        var x = Enumerable.Range(0, batch).SelectMany(Step).ToArray();
        var state = new float[batch * Spec.HiddenSize];
        using var input = OrtValue.CreateTensorValueFromMemory(x, [batch, 1, Spec.InputSize]);
        using var runOptions = new RunOptions();
        string[] outputNames = [GruModelNames.FinalHidden(0), GruModelNames.Output];
        void RunOnce()
        {
            using var initial = OrtValue.CreateTensorValueFromMemory(state, [1, batch, Spec.HiddenSize]);
            using var results = session.Run(runOptions, [GruModelNames.Input, GruModelNames.InitialHidden(0)], [input, initial], outputNames);
            results[0].GetTensorDataAsSpan<float>().CopyTo(state);
        }

        return Throughput.RunsPerSecond(RunOnce, window) * batch;
    }
}
