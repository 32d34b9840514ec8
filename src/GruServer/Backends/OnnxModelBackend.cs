using GruServer.Axes;
using GruServer.Hosting;
using GruServer.Inference;
using Microsoft.ML.OnnxRuntime;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;
// The contract enum shares its name with this class's ExecutionProvider property (the provider actually in use).
using ExecutionProviderPreference = GruServing.Contract.Serving.ExecutionProvider;

namespace GruServer.Backends;

/// <summary>How the backend is loaded: execution provider, axes given by flag, ONNX Runtime threading.</summary>
/// <param name="IntraOpThreads">0: ONNX Runtime's default (one per physical core).</param>
/// <param name="Spinning">Whether idle intra-op threads busy-wait for work (off for serving, see <see cref="OnnxModelBackend.SessionOptionsFor"/>).</param>
internal sealed record BackendSettings(ExecutionProviderPreference Preference, TensorAxesOverride Axes, int IntraOpThreads = 0, bool Spinning = false);

/// <summary>An ONNX Runtime <see cref="InferenceSession"/> behind <see cref="IModelBackend"/>.</summary>
internal sealed class OnnxModelBackend : IModelBackend
{
    private const string CudaProvider = "CUDAExecutionProvider";
    private readonly InferenceSession _session;

    private OnnxModelBackend(InferenceSession session, string executionProvider, ModelSignature signature)
    {
        _session = session;
        ExecutionProvider = executionProvider;
        Signature = signature;
    }

    public ModelSignature Signature { get; }

    public string ExecutionProvider { get; }

    /// <summary>Loads the model from the very bytes whose digest was checked, so the file cannot change in between.</summary>
    /// <param name="cudaUnavailableReason">Why CUDA was not used when <paramref name="preference"/> is Auto and the model runs on CPU.</param>
    public static OnnxModelBackend Load(byte[] model, BackendSettings settings, CancellationToken cancellationToken, out string? cudaUnavailableReason)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var (preference, axes) = (settings.Preference, settings.Axes);
        cudaUnavailableReason = null;
        var options = SessionOptionsFor(settings);
        try
        {
            var provider = "CPU";
            if (preference != ExecutionProviderPreference.CPU)
            {
                cudaUnavailableReason = TryAppendCuda(options);
                if (cudaUnavailableReason is null)
                {
                    provider = "CUDA";
                }
                else if (preference == ExecutionProviderPreference.CUDA)
                {
                    throw new ModelLoadException(
                        $"--execution-provider CUDA was requested but CUDA is unavailable: {cudaUnavailableReason}. " +
                        "Run on a node with an NVIDIA GPU and the CUDA/cuDNN libraries, a GruServer built with `make build-gpu`, or use Auto/CPU.");
                }
            }

            InferenceSession session;
            try
            {
                session = new InferenceSession(model, options);
            }
            catch (OnnxRuntimeException e) when (provider == "CUDA" && preference == ExecutionProviderPreference.Auto)
            {
                // The CUDA provider registered but could not initialise (e.g. no device): Auto means CPU then.
                cudaUnavailableReason = e.Message;
                options.Dispose();
                options = SessionOptionsFor(settings);
                provider = "CPU";
                session = new InferenceSession(model, options);
            }

            try
            {
                // Inputs first (from the graph), then outputs by probe runs, which need the inputs' axes to shape them.
                var (roles, state) = TraceGru(model);
                var signature = ModelAxes.ResolveInputs(ReadSignature(session), roles, axes) with { State = state };
                return new OnnxModelBackend(session, provider, ModelAxes.ResolveOutputs(signature, new OnnxModelBackend(session, provider, signature), axes, cancellationToken));
            }
            catch
            {
                session.Dispose();
                throw;
            }
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"ONNX Runtime cannot load the model: {e.Message}", e);
        }
        finally
        {
            options.Dispose();
        }
    }

    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames, CancellationToken cancellationToken, bool pooledOutputs = false)
    {
        using var runOptions = new RunOptions();
        using var cancel = cancellationToken.Register(() => runOptions.Terminate = true);
        var values = new List<OrtValue>(inputs.Count);
        try
        {
            foreach (var input in inputs)
            {
                values.Add(input.Data switch
                {
                    // Pinned, not copied; only the shape's elements (a pooled batch buffer may be longer).
                    float[] f => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, f.AsMemory(0, Count(input)), input.Shape),
                    double[] d => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, d.AsMemory(0, Count(input)), input.Shape),
                    int[] i => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, i.AsMemory(0, Count(input)), input.Shape),
                    long[] l => OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, l.AsMemory(0, Count(input)), input.Shape),
                    _ => throw new InvalidOperationException($"input '{input.Name}' holds {input.Data.GetType().Name}, which the backend cannot pass to ONNX Runtime."),
                });
            }

            using var results = RunOrCancel(runOptions, [.. inputs.Select(i => i.Name)], values, [.. outputNames], cancellationToken);
            var outputs = new List<NamedTensor>(outputNames.Count);
            for (var i = 0; i < outputNames.Count; i++)
            {
                var value = results[i];
                var shape = value.GetTensorTypeAndShape().Shape;
                var spec = Signature.Outputs.First(o => o.Name == outputNames[i]);
                Array data = spec.DataType switch
                {
                    TensorDataType.FP32 => CopyOut(value.GetTensorDataAsSpan<float>(), pooledOutputs),
                    TensorDataType.FP64 => CopyOut(value.GetTensorDataAsSpan<double>(), pooledOutputs),
                    TensorDataType.INT32 => CopyOut(value.GetTensorDataAsSpan<int>(), pooledOutputs),
                    _ => CopyOut(value.GetTensorDataAsSpan<long>(), pooledOutputs),
                };
                outputs.Add(new NamedTensor(outputNames[i], spec.DataType, shape, data));
            }

            return outputs;
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    public void Dispose() => _session.Dispose();

    /// <summary>Copies an output out of ONNX Runtime's buffer, which the run's results own and free.</summary>
    private static T[] CopyOut<T>(ReadOnlySpan<T> source, bool pooled)
        where T : unmanaged
    {
        if (!pooled)
        {
            return source.ToArray();
        }

        var data = (T[])Batching.PooledTensors.Rent(typeof(T), source.Length);
        source.CopyTo(data);
        return data;
    }

    private static int Count(NamedTensor input) => checked((int)NamedTensor.ElementCount(input.Shape));

    private IDisposableReadOnlyCollection<OrtValue> RunOrCancel(
        RunOptions runOptions, string[] inputNames, List<OrtValue> values, string[] outputNames, CancellationToken cancellationToken)
    {
        try
        {
            return _session.Run(runOptions, inputNames, values, outputNames);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            // RunOptions.Terminate stopped the run because the caller went away.
            throw new OperationCanceledException(cancellationToken);
        }
        catch (OnnxRuntimeException e) when (e.Message.Contains("InvalidArgument", StringComparison.Ordinal) || e.Message.Contains("INVALID_ARGUMENT", StringComparison.Ordinal))
        {
            // Validation covers the known rules; whatever ONNX Runtime still rejects is the caller's input too.
            throw InferenceException.Invalid(SchemaErrorReasons.RejectedByModel, $"the model rejected the inputs: {e.Message}");
        }
    }

    /// <summary>Serving settings: intra-op threads default to ONNX Runtime's (one per core), which a batched GRU uses
    /// for its GEMMs; spinning is off, because after each run ORT's threads would otherwise busy-wait for the next one on
    /// the very cores Kestrel needs to read and answer requests, and the batcher runs one model call at a time, so there
    /// is never a next op to catch quickly. Measured (bench/results/gruserver-ort-settings.md, a 2-core machine at load
    /// average 31): spinning off lost nothing (batch-1 p50 1.11 vs 1.29 ms, batch 32 677 vs 636 seq/s); the busy-neighbour
    /// columns were within that run's noise, so the case for it rests on the reasoning above.</summary>
    internal static SessionOptions SessionOptionsFor(BackendSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        OrtTelemetry.OptOutUnlessAsked(); // before ONNX Runtime's environment exists: it reads the opt-out once, at creation
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        if (settings.IntraOpThreads > 0)
        {
            options.IntraOpNumThreads = settings.IntraOpThreads;
        }

        options.AddSessionConfigEntry("session.intra_op.allow_spinning", settings.Spinning ? "1" : "0");
        return options;
    }

    private static (IReadOnlyDictionary<string, GruOnnx.Reading.GruInputRole> Roles, GruOnnx.Reading.GruStateTrace State) TraceGru(byte[] model)
    {
        try
        {
            var proto = GruOnnx.Protobuf.ModelProto.Parser.ParseFrom(model);
            return (GruOnnx.Reading.GruInputAxes.Trace(proto), GruOnnx.Reading.GruStateTensors.Trace(proto));
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            // ONNX Runtime read it, so it is a model; axes then come from names or --tensor-axes.
            return (new Dictionary<string, GruOnnx.Reading.GruInputRole>(), new([], ["the model's graph could not be read to find its GRU nodes"]));
        }
    }

    private static string? TryAppendCuda(SessionOptions options)
    {
        if (!OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider))
        {
            return "this build of ONNX Runtime has no CUDA execution provider (CPU package)";
        }

        try
        {
            options.AppendExecutionProvider_CUDA(0);
            return null;
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
        {
            return e.Message.ReplaceLineEndings(" ").Trim();
        }
    }

    private static ModelSignature ReadSignature(InferenceSession session)
    {
        static TensorSpec Spec(string name, NodeMetadata metadata)
        {
            if (!metadata.IsTensor)
            {
                throw new ModelLoadException($"model tensor '{name}' is a {metadata.OnnxValueType}; GruServer serves tensor inputs and outputs only.");
            }

            var type = metadata.ElementType switch
            {
                var t when t == typeof(float) => TensorDataType.FP32,
                var t when t == typeof(double) => TensorDataType.FP64,
                var t when t == typeof(int) => TensorDataType.INT32,
                var t when t == typeof(long) => TensorDataType.INT64,
                var t => throw new ModelLoadException($"model tensor '{name}' has element type {t.Name}; GruServer supports FP32, FP64, INT32 and INT64."),
            };
            var names = metadata.SymbolicDimensions ?? [];
            return new TensorSpec(
                name,
                type,
                [.. metadata.Dimensions.Select(d => (long)d)],
                [.. metadata.Dimensions.Select((_, i) => i < names.Length ? names[i] ?? "" : "")]);
        }

        return new ModelSignature(
            [.. session.InputNames.Select(n => Spec(n, session.InputMetadata[n]))],
            [.. session.OutputNames.Select(n => Spec(n, session.OutputMetadata[n]))]);
    }
}
