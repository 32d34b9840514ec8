namespace ControllerRuntime.Controllers;

/// <summary>What to reconcile: a key, never an event (controller-runtime's reconcile.Request).</summary>
public readonly record struct ReconcileRequest(string? Namespace, string Name)
{
    /// <inheritdoc />
    public override string ToString() => string.IsNullOrEmpty(Namespace) ? Name : Namespace + "/" + Name;
}

/// <summary>The outcome of a successful reconcile: done, or look again after a delay.</summary>
public readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    /// <summary>Nothing more to do until something changes.</summary>
    public static ReconcileResult Done => default;

    /// <summary>An expected wait: reconcile again after <paramref name="delay"/> (through the same queue).</summary>
    public static ReconcileResult After(TimeSpan delay) => new(delay);
}

/// <summary>Brings the world in line with one object. Throw for transient failures: the runtime retries with backoff.</summary>
public interface IReconciler
{
    /// <summary>Reconciles the object named by <paramref name="request"/>.</summary>
    Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken);
}
