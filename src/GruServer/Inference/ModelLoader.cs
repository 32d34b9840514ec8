using System.Security.Cryptography;
using GruServer.Backends;
using GruServer.Hosting;
using GruServer.Registry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GruServer.Inference;

/// <summary>Loads the model in the background while health endpoints already answer: read the file, check its
/// sha256 against the pinned digest, create the session on the chosen execution provider, run a warm-up
/// inference, and only then report ready. A digest mismatch keeps the server up but never serving; a model
/// that cannot load at all (missing file, CUDA required but absent) stops the process with exit code 1.</summary>
internal sealed partial class ModelLoader : BackgroundService
{
    private readonly GruServerOptions _options;
    private readonly ServedModel _model;
    private readonly ServerExit _exit;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<ModelLoader> _logger;
    private readonly OciModelFetcher? _fetcher;

    public ModelLoader(GruServerOptions options, ServedModel model, ServerExit exit, IHostApplicationLifetime lifetime, ILogger<ModelLoader> logger,
        OciModelFetcher? fetcher = null)
    {
        _fetcher = fetcher;
        _options = options;
        _model = model;
        _exit = exit;
        _lifetime = lifetime;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // Load once the listeners are bound: health answers during the load, and a server that cannot
            // bind its ports stops before spending time on the model.
            await WhenStartedAsync(stoppingToken).ConfigureAwait(false);
            var path = _options.ModelPath;
            if (_fetcher is not null)
            {
                // Pulled (or found in the cache) and verified against the layer digest before a byte is loaded.
                (path, _) = await _fetcher.FetchAsync(stoppingToken).ConfigureAwait(false);
            }

            await LoadAsync(path, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // Whatever stops the model from loading must end the process with exit code 1, logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.LoadFailed(_logger, _options.ModelPath, e.Message);
            _model.Update(new ModelState(ModelStatus.Failed, e.Message));
            _exit.Fail(1);
            _lifetime.StopApplication();
        }
    }

    private Task WhenStartedAsync(CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        return started.Task.WaitAsync(cancellationToken);
    }

    private async Task LoadAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"model file '{path}' does not exist; check --model (GRU_MODEL).");
        }

        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        var digest = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (_options.ExpectedDigest?.Hex is { } expected && !string.Equals(expected, digest, StringComparison.Ordinal))
        {
            var message = $"model file '{path}' has sha256:{digest} but --model-sha256 pins sha256:{expected}; refusing to serve it";
            Log.DigestMismatch(_logger, path, digest, expected);
            _model.Update(new ModelState(ModelStatus.DigestMismatch, message, digest));
            return;
        }

        if (_options.ExpectedDigest is null)
        {
            Log.DigestNotPinned(_logger, digest);
        }
        else
        {
            Log.DigestVerified(_logger, digest);
        }

        // Loading runs the model twice to find its output axes: that is the warm-up too.
        var backend = OnnxModelBackend.Load(bytes, new BackendSettings(_options.ExecutionProvider, _options.TensorAxes, _options.IntraOpThreads), cancellationToken, out var cudaUnavailable);
        if (cudaUnavailable is not null)
        {
            Log.CudaFallback(_logger, _options.ExecutionProvider, cudaUnavailable);
        }

        if (_options.Sessions.Mode == GruServing.Contract.Serving.SessionMode.Stateful)
        {
            // Refused at start, not at the first request: a Stateful server that cannot carry state must never look ready.
            try
            {
                Sequences.SequenceStateLayout.For(backend.Signature);
            }
            catch
            {
                backend.Dispose();
                throw;
            }
        }

        foreach (var spec in backend.Signature.Inputs.Concat(backend.Signature.Outputs))
        {
            Log.Axes(_logger, spec.Name, spec.DescribeShape(), spec.BatchAxis, spec.TimeAxis, spec.AxesSource);
        }

        _model.Update(new ModelState(ModelStatus.Ready, "model is ready", digest, backend.ExecutionProvider, backend));
        Log.Ready(_logger, _model.Name, _model.Revision, _model.Track, digest, backend.ExecutionProvider);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Model digest sha256:{Digest} (no --model-sha256 pinned; serving and reporting the computed digest)")]
        public static partial void DigestNotPinned(ILogger logger, string digest);

        [LoggerMessage(2, LogLevel.Information, "Model digest sha256:{Digest} matches --model-sha256")]
        public static partial void DigestVerified(ILogger logger, string digest);

        [LoggerMessage(3, LogLevel.Error, "Model digest mismatch for {Path}: file has sha256:{Actual}, expected sha256:{Expected}. The model will not be served; the server stays not ready")]
        public static partial void DigestMismatch(ILogger logger, string path, string actual, string expected);

        [LoggerMessage(4, LogLevel.Warning, "Execution provider {Preference}: CUDA unavailable ({Reason}); serving on CPU")]
        public static partial void CudaFallback(ILogger logger, GruServing.Contract.Serving.ExecutionProvider preference, string reason);

        [LoggerMessage(5, LogLevel.Information, "Model {Model} revision {Revision} ({Track}) ready: sha256:{Digest}, execution provider {ExecutionProvider}, warm-up done")]
        public static partial void Ready(ILogger logger, string model, string revision, string track, string digest, string executionProvider);

        [LoggerMessage(6, LogLevel.Critical, "Cannot serve model {Path}: {Reason}")]
        public static partial void LoadFailed(ILogger logger, string path, string reason);

        [LoggerMessage(7, LogLevel.Information, "Tensor {Tensor} {Shape}: batch axis {BatchAxis}, time axis {TimeAxis} (-1: none), from {Source}")]
        public static partial void Axes(ILogger logger, string tensor, string shape, int batchAxis, int timeAxis, string source);
    }
}
