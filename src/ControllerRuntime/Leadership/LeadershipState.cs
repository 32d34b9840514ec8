namespace ControllerRuntime.Leadership;

/// <summary>What this process knows about leadership; the host's Main reads <see cref="Lost"/> to pick its exit code.</summary>
public sealed class LeadershipState
{
    private volatile bool _leading;
    private volatile bool _lost;

    /// <summary>True while this replica holds the lease (always true when election is off).</summary>
    public bool IsLeader => _leading;

    /// <summary>True once leadership was held and then lost: the process is stopping and must exit non-zero.</summary>
    public bool Lost => _lost;

    internal void Started() => _leading = true;

    internal void Stopped(bool lost)
    {
        _leading = false;
        if (lost) _lost = true;
    }
}
