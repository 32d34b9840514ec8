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
/// <remarks>CPU columns are microseconds of CPU time per step, in the server process and in this (client) process, over
/// the same window: with both on one machine, <c>cores / (server + client)</c> is the most steps/s the CPUs allow.</remarks>
internal sealed record StreamingResult(
    string Model, int Sequences, double HttpSteps, double GrpcStreamSteps, double RawOrtSteps, double MeanBatchHttp, double MeanBatchGrpc,
    CpuPerStep HttpCpu, CpuPerStep GrpcCpu, double HttpNoInference, CpuPerStep HttpNoInferenceCpu, double GrpcNoInference, CpuPerStep GrpcNoInferenceCpu);

/// <summary>CPU microseconds per step in the server and in the client, and the steps/s ceiling they give on this machine's cores.</summary>
internal sealed record CpuPerStep(double ServerMicros, double ClientMicros)
{
    public double Ceiling => Environment.ProcessorCount * 1e6 / (ServerMicros + ClientMicros);

    /// <summary>Runs <paramref name="measure"/> (which returns its step count) and charges both processes' CPU time to its steps.</summary>
    public static async Task<(long Steps, CpuPerStep Cpu)> MeasureAsync(int serverProcessId, Func<Task<long>> measure)
    {
        using var server = Process.GetProcessById(serverProcessId);
        using var self = Process.GetCurrentProcess();
        var (serverBefore, selfBefore) = (server.TotalProcessorTime, self.TotalProcessorTime);
        var steps = await measure();
        server.Refresh();
        self.Refresh();
        var perStep = 1e6 / Math.Max(1, steps);
        return (steps, new CpuPerStep((server.TotalProcessorTime - serverBefore).TotalSeconds * perStep, (self.TotalProcessorTime - selfBefore).TotalSeconds * perStep));
    }
}

/// <summary>Stateful streaming: <c>sequences</c> clients each step their own sequence one time step per request (closed
/// loop) against a real GruServer with --sessions-mode Stateful (a separate process), over HTTP with the binary tensor
/// extension and over one gRPC ModelStreamInfer stream per sequence; against InferenceSession.Run in this process at
/// batch = sequences with T=1, feeding each run's Y_h back as initial_h (what the server does, without the serving).</summary>
internal static class Streaming
{
    private const string UnservedModel = "not-served";


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

        // Warm-up of both paths at the measured concurrency until tiered JIT has settled (Throughput.WarmUp).
        await HttpStepsAsync(http, sequences, Throughput.WarmUp / 2);
        await GrpcStreamStepsAsync(client, sequences, Throughput.WarmUp / 2);
        var before = await Throughput.BatchCountsAsync(http, server.MetricsUrl);
        var (httpSteps, httpCpu) = await CpuPerStep.MeasureAsync(server.ProcessId, () => HttpStepsAsync(http, sequences, window));
        var middle = await Throughput.BatchCountsAsync(http, server.MetricsUrl);
        var (grpcSteps, grpcCpu) = await CpuPerStep.MeasureAsync(server.ProcessId, () => GrpcStreamStepsAsync(client, sequences, window));
        var after = await Throughput.BatchCountsAsync(http, server.MetricsUrl);
        // The same loops with no inference at all, as the transport's own ceiling on this machine: HTTP GET /v2/health/live,
        // and stream messages naming a model the server does not serve (each answered at once with error_message).
        var (httpNoOp, httpNoOpCpu) = await CpuPerStep.MeasureAsync(server.ProcessId, () => Throughput.LoadAsync(ProtocolRunner.HttpNoOp(server, http), sequences, window));
        var (grpcNoOp, grpcNoOpCpu) = await CpuPerStep.MeasureAsync(server.ProcessId, () => GrpcStreamStepsAsync(client, sequences, window, UnservedModel));
        var raw = RawOrtSteps(model.Path, sequences, window);
        var result = new StreamingResult(name, sequences, httpSteps / window.TotalSeconds, grpcSteps / window.TotalSeconds, raw,
            (middle.Sequences - before.Sequences) / Math.Max(1, middle.Runs - before.Runs), (after.Sequences - middle.Sequences) / Math.Max(1, after.Runs - middle.Runs),
            httpCpu, grpcCpu, httpNoOp / window.TotalSeconds, httpNoOpCpu, grpcNoOp / window.TotalSeconds, grpcNoOpCpu);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {sequences} sequences: HTTP/binary {result.HttpSteps:F0} steps/s (mean batch {result.MeanBatchHttp:F1}), gRPC stream {result.GrpcStreamSteps:F0} (mean batch {result.MeanBatchGrpc:F1}), raw ORT batch {sequences} {raw:F0}; CPU µs/step server+client HTTP {httpCpu.ServerMicros:F1}+{httpCpu.ClientMicros:F1}, gRPC {grpcCpu.ServerMicros:F1}+{grpcCpu.ClientMicros:F1}; no inference: HTTP {result.HttpNoInference:F0}/s ({httpNoOpCpu.ServerMicros:F1}+{httpNoOpCpu.ClientMicros:F1} µs), gRPC stream {result.GrpcNoInference:F0}/s ({grpcNoOpCpu.ServerMicros:F1}+{grpcNoOpCpu.ClientMicros:F1} µs)"));
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
        text.AppendLine("CPU µs/step: CPU time of the server process and of the client (this process) over the window, per step; ceiling: the steps/s");
        text.AppendLine("those leave possible on this machine's cores with client and server sharing them (cores / (server + client)).");
        text.AppendLine("No inference: the same closed loops with the model taken out, the transport's own ceiling here: HTTP GET /v2/health/live, and");
        text.AppendLine("stream messages naming a model the server does not serve (each answered at once with error_message; this includes raising that error).");
        text.AppendLine();
        text.AppendLine("| model | sequences | HTTP steps/s | mean batch | gRPC stream steps/s | mean batch | raw ORT steps/s | HTTP / raw | gRPC / raw | HTTP CPU µs/step server + client | HTTP ceiling steps/s | gRPC CPU µs/step server + client | gRPC ceiling steps/s | no inference: HTTP req/s (CPU µs server + client) | no inference: gRPC stream msgs/s (CPU µs server + client) |");
        text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Model} | {r.Sequences} | {r.HttpSteps:F0} | {r.MeanBatchHttp:F1} | {r.GrpcStreamSteps:F0} | {r.MeanBatchGrpc:F1} | {r.RawOrtSteps:F0} | {r.HttpSteps / r.RawOrtSteps:F2} | {r.GrpcStreamSteps / r.RawOrtSteps:F2} | {r.HttpCpu.ServerMicros:F1} + {r.HttpCpu.ClientMicros:F1} | {r.HttpCpu.Ceiling:F0} | {r.GrpcCpu.ServerMicros:F1} + {r.GrpcCpu.ClientMicros:F1} | {r.GrpcCpu.Ceiling:F0} | {r.HttpNoInference:F0} ({r.HttpNoInferenceCpu.ServerMicros:F1} + {r.HttpNoInferenceCpu.ClientMicros:F1}) | {r.GrpcNoInference:F0} ({r.GrpcNoInferenceCpu.ServerMicros:F1} + {r.GrpcNoInferenceCpu.ClientMicros:F1}) |");
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

    /// <param name="modelName"><see cref="UnservedModel"/>: every message is answered with an error, no inference.</param>
    private static async Task<long> GrpcStreamStepsAsync(GRPCInferenceService.GRPCInferenceServiceClient client, int sequences, TimeSpan window, string modelName = "bench")
    {
        var stop = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var counts = await Task.WhenAll(Enumerable.Range(0, sequences).Select(async s =>
        {
            using var call = client.ModelStreamInfer();
            var x = ByteString.CopyFrom(MemoryMarshal.AsBytes(Step(s).AsSpan()));
            long done = 0;
            while (Stopwatch.GetTimestamp() < stop)
            {
                var request = new ModelInferRequest { ModelName = modelName };
                request.Parameters.Add("sequence_id", new InferParameter { Int64Param = 1_000_000 + s });
                request.Parameters.Add("sequence_start", new InferParameter { BoolParam = done == 0 });
                request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = GruModelNames.Input, Datatype = "FP32", Shape = { 1, 1, Spec.InputSize } });
                request.RawInputContents.Add(x);
                await call.RequestStream.WriteAsync(request);
                if (!await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    throw new InvalidOperationException("the stream ended early");
                }

                var error = call.ResponseStream.Current.ErrorMessage;
                if ((modelName == UnservedModel) != error.Contains("is not served here", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"unexpected answer for model '{modelName}': '{error}'");
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
