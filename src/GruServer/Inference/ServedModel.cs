using GruServer.Backends;

namespace GruServer.Inference;

/// <summary>Where the served model is in its life: only <see cref="Ready"/> serves.</summary>
internal enum ModelStatus
{
    Loading,
    Ready,
    DigestMismatch,
    Failed,
}

/// <summary>A snapshot of the served model; replaced as a whole so readers never see half an update.</summary>
internal sealed record ModelState(
    ModelStatus Status,
    string Message,
    string? Digest = null,
    string? ExecutionProvider = null,
    IModelBackend? Backend = null);

/// <summary>The one model this server serves, its name and revision, and whether it is ready.</summary>
internal sealed class ServedModel(string name, string revision, string track) : IDisposable
{
    private ModelState _state = new(ModelStatus.Loading, "model is loading");
    private volatile bool _stopping;

    public string Name { get; } = name;

    public string Revision { get; } = revision;

    public string Track { get; } = track;

    public ModelState State => Volatile.Read(ref _state);

    /// <summary>Ready means loaded, digest verified, warmed up, and not shutting down.</summary>
    public bool IsReady => !_stopping && State.Status == ModelStatus.Ready;

    public void Update(ModelState state) => Volatile.Write(ref _state, state);

    /// <summary>Called on SIGTERM: readiness drops at once so load balancers stop sending new requests.</summary>
    public void MarkStopping() => _stopping = true;

    public void Dispose() => State.Backend?.Dispose();
}
