using GruServer.Inference;
using GruServing.Contract.Durations;
using GruServing.Contract.Serving;

namespace GruServer.Sequences;

/// <summary>How Stateful sequences are kept: mode, idle timeout and the bound on live sequences.</summary>
internal sealed record SessionSettings(SessionMode Mode, TimeSpan IdleTimeout, int MaxSessions);

/// <summary>A sequence taken for one request: the state it starts from (null: zeros) until the request settles
/// through <see cref="SequenceStore.Release"/>.</summary>
internal sealed class SequenceLease
{
    internal SequenceLease(string id, SequenceStore.Slot slot, IReadOnlyList<NamedTensor>? initial, bool created)
    {
        Id = id;
        Slot = slot;
        Initial = initial;
        Created = created;
    }

    public string Id { get; }

    public IReadOnlyList<NamedTensor>? Initial { get; }

    internal SequenceStore.Slot Slot { get; }

    internal bool Created { get; }
}

/// <summary>Each live sequence's hidden state between requests, keyed by sequence id: at most one request per
/// sequence at a time, dropped when idle longer than the timeout, bounded in number, and tied to the digest of the
/// model that made it, so a state never survives a model change.</summary>
/// <remarks>Kept in memory only: a restarted pod holds no sequences, which is why a client may hold the state itself
/// (<see cref="SequenceStateCodec"/>). Idle sequences are swept by a timer from the injected <see cref="TimeProvider"/>
/// (and checked on every use), so tests drive expiry with a fake clock.</remarks>
internal sealed class SequenceStore : IDisposable
{
    private readonly Dictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly SessionSettings _settings;
    private readonly TimeProvider _time;
    private readonly ITimer? _sweeper;

    public SequenceStore(SessionSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        _settings = settings;
        _time = time;
        if (settings.Mode == SessionMode.Stateful)
        {
            var period = TimeSpan.FromTicks(Math.Clamp(settings.IdleTimeout.Ticks / 2, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
            _sweeper = time.CreateTimer(_ => Sweep(), null, period, period);
        }
    }

    public SessionSettings Settings => _settings;

    /// <summary>True once the server is shutting down (<see cref="BeginDrain"/>): no new sequence is taken, and every
    /// answer hands its sequence's state to the client.</summary>
    public bool Draining => Volatile.Read(ref _draining);

    private bool _draining;
    private long _handoffs;

    /// <summary>Answers that handed their sequence's state to the client while draining (<c>gru_sequence_handoffs_total</c>).</summary>
    public long Handoffs => Interlocked.Read(ref _handoffs);

    /// <summary>Counts one answer of <see cref="Handoffs"/>.</summary>
    public void CountHandoff() => Interlocked.Increment(ref _handoffs);

    /// <summary>Stops taking new sequences; the live ones keep being served until they end, idle out or the server stops.</summary>
    public void BeginDrain() => Volatile.Write(ref _draining, true);

    /// <summary>Live sequences (the <c>gru_sessions_active</c> gauge).</summary>
    public int Active
    {
        get
        {
            lock (_lock)
            {
                return _slots.Count;
            }
        }
    }

    /// <summary>Takes sequence <paramref name="control"/>.Id for one request of the model with
    /// <paramref name="digest"/>, starting from <paramref name="clientState"/> when the client sent one.</summary>
    public SequenceLease Acquire(SequenceControl control, string digest, IReadOnlyList<NamedTensor>? clientState)
    {
        ArgumentNullException.ThrowIfNull(control);
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (_slots.TryGetValue(control.Id, out var slot))
            {
                if (slot.Busy)
                {
                    throw InferenceException.Invalid(SchemaErrorReasons.InvalidSequence,
                        $"sequence '{control.Id}' already has a request in flight; send a sequence's requests one at a time, each after the previous answer.");
                }

                if (Expired(slot, now) || slot.Digest != digest)
                {
                    // Idle too long, or made by a model no longer served: as if it never existed.
                    _slots.Remove(control.Id);
                    slot = null;
                }
            }

            IReadOnlyList<NamedTensor>? initial;
            if (clientState is not null)
            {
                initial = clientState;
            }
            else if (control.Start)
            {
                initial = null;
            }
            else if (slot is not null)
            {
                initial = slot.State;
            }
            else
            {
                throw InferenceException.Invalid(SchemaErrorReasons.UnknownSequence,
                    $"sequence '{control.Id}' is unknown or expired on this server (sequences idle longer than {GoDuration.Format(_settings.IdleTimeout)} are dropped, " +
                    $"and a restarted or changed model keeps none); begin it with {SequenceParameters.Start}=true, or continue it from a state you hold with {SequenceParameters.State}.");
            }

            var created = slot is null;
            if (created && Draining)
            {
                // Only a sequence this server already holds continues here; any other (new, or continued from a client's
                // state) goes to a replica that is not shutting down.
                throw new InferenceException(InferenceErrorKind.Draining,
                    $"this server is shutting down and takes no new sequence; retry '{control.Id}' (with {SequenceParameters.Start}=true, or the {SequenceParameters.State} you hold), " +
                    "a new connection reaches another replica.");
            }

            if (created)
            {
                if (_slots.Count >= _settings.MaxSessions)
                {
                    SweepLocked(now);
                }

                if (_slots.Count >= _settings.MaxSessions)
                {
                    throw new InferenceException(InferenceErrorKind.SessionsFull,
                        $"this server holds its maximum of {_settings.MaxSessions} live sequences ({ServerFlags.MaxSessions}); end finished sequences with {SequenceParameters.End}=true, " +
                        $"let idle ones expire ({GoDuration.Format(_settings.IdleTimeout)}), or add replicas.");
                }

                slot = new Slot(digest);
                _slots.Add(control.Id, slot);
            }

            slot!.Busy = true;
            slot.LastUsed = now;
            return new SequenceLease(control.Id, slot, initial, created);
        }
    }

    /// <summary>Settles a request: its new state is kept (or the sequence freed when <paramref name="end"/>); a failed
    /// request (<paramref name="state"/> null) leaves the sequence as it was, and a sequence it would have begun unmade.</summary>
    public void Release(SequenceLease lease, IReadOnlyList<NamedTensor>? state, bool end)
    {
        ArgumentNullException.ThrowIfNull(lease);
        lock (_lock)
        {
            var slot = lease.Slot;
            slot.Busy = false;
            slot.LastUsed = _time.GetTimestamp();
            var owned = _slots.TryGetValue(lease.Id, out var current) && ReferenceEquals(current, slot);
            if (state is not null && end || state is null && lease.Created && slot.State is null)
            {
                if (owned)
                {
                    _slots.Remove(lease.Id);
                }
            }
            else if (state is not null)
            {
                slot.State = state;
            }
        }
    }

    /// <summary>Drops every idle sequence past its timeout.</summary>
    public void Sweep()
    {
        lock (_lock)
        {
            SweepLocked(_time.GetTimestamp());
        }
    }

    public void Dispose() => _sweeper?.Dispose();

    private void SweepLocked(long now)
    {
        foreach (var (id, slot) in _slots.ToList())
        {
            if (!slot.Busy && Expired(slot, now))
            {
                _slots.Remove(id);
            }
        }
    }

    private bool Expired(Slot slot, long now) => _time.GetElapsedTime(slot.LastUsed, now) > _settings.IdleTimeout;

    /// <summary>One sequence: the model it belongs to, its state after its last request, and whether a request holds it.</summary>
    internal sealed class Slot(string digest)
    {
        public string Digest { get; } = digest;

        public IReadOnlyList<NamedTensor>? State { get; set; }

        public long LastUsed { get; set; }

        public bool Busy { get; set; }
    }
}
