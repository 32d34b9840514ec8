using System.Collections.Immutable;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Kube.Local.Api;

namespace Kube.Local.Storage;

/// <summary>
/// The in-memory "etcd": buckets of immutable objects keyed by namespace/name, one global monotonic
/// resourceVersion, a bounded history of events for watches, and the live watch subscriptions.
/// Writes are serialized by one lock (each is microseconds); reads take lock-free immutable snapshots.
/// </summary>
internal sealed class ObjectStore
{
    private static readonly ImmutableSortedDictionary<string, StoredObject> EmptyBucket =
        ImmutableSortedDictionary<string, StoredObject>.Empty.WithComparers(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly Dictionary<string, ImmutableSortedDictionary<string, StoredObject>> _buckets = new(StringComparer.Ordinal);
    private readonly Queue<WatchEvent> _history = new();
    private readonly Dictionary<string, List<WatchSubscription>> _watchers = new(StringComparer.Ordinal);
    // Indexes for the garbage collector: uid → object, owner uid → dependents (bucket, key).
    private readonly Dictionary<string, (string StorageKey, string Key)> _byUid = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<(string StorageKey, string Key)>> _dependents = new(StringComparer.Ordinal);
    private readonly int _historySize;
    private long _rv;
    private long _compactedRv;

    public ObjectStore(int historySize)
    {
        if (historySize < 1) throw new ArgumentOutOfRangeException(nameof(historySize), "WatchHistorySize must be at least 1");
        _historySize = historySize;
    }

    /// <summary>Raised (outside the lock, in commit order per writer) for every committed change.</summary>
    public event Action<WatchEvent>? Committed;

    public long CurrentResourceVersion
    {
        get { lock (_gate) return _rv; }
    }

    public StoredObject? Get(string storageKey, string ns, string name)
    {
        var bucket = Bucket(storageKey);
        return bucket.TryGetValue(ns + "/" + name, out var o) ? o : null;
    }

    /// <summary>A consistent snapshot of a bucket and the resourceVersion it reflects.</summary>
    public (ImmutableSortedDictionary<string, StoredObject> Items, long ResourceVersion) Snapshot(string storageKey)
    {
        lock (_gate)
        {
            return (_buckets.TryGetValue(storageKey, out var b) ? b : EmptyBucket, _rv);
        }
    }

    private ImmutableSortedDictionary<string, StoredObject> Bucket(string storageKey)
    {
        lock (_gate)
        {
            return _buckets.TryGetValue(storageKey, out var b) ? b : EmptyBucket;
        }
    }

    /// <summary>
    /// Reads the current object, lets <paramref name="mutate"/> decide the next state under the write lock
    /// (null deletes, the current instance means "no change"), and commits it with a new resourceVersion.
    /// An update that leaves the bytes unchanged is not written, as etcd3's GuaranteedUpdate does.
    /// </summary>
    public WriteResult Write(string storageKey, string ns, string name, Func<StoredObject?, WriteDecision> mutate, bool dryRun = false)
    {
        WatchEvent? committed = null;
        WriteResult result;
        lock (_gate)
        {
            _buckets.TryGetValue(storageKey, out var bucket);
            bucket ??= EmptyBucket;
            var key = ns + "/" + name;
            bucket.TryGetValue(key, out var current);
            var decision = mutate(current);
            switch (decision)
            {
                case WriteDecision.KeepDecision:
                    return new WriteResult(current, false);
                case WriteDecision.Put put:
                    {
                        if (current is not null && SameContent(put.Object, current))
                        {
                            return new WriteResult(current, false);
                        }
                        var rv = dryRun ? _rv : _rv + 1;
                        var next = StoredObject.From(put.Object, dryRun && current is not null ? current.ResourceVersion : rv);
                        if (dryRun) return new WriteResult(next, false);
                        _rv = rv;
                        _buckets[storageKey] = bucket.SetItem(key, next);
                        Unindex(storageKey, key, current);
                        Index(storageKey, key, next);
                        committed = new WatchEvent(current is null ? WatchEventType.Added : WatchEventType.Modified, storageKey, next, current);
                        result = new WriteResult(next, true);
                        break;
                    }
                case WriteDecision.Remove remove:
                    {
                        if (current is null) return new WriteResult(null, false);
                        var rv = dryRun ? _rv : _rv + 1;
                        var final = StoredObject.From(remove.FinalState ?? current.ToJson(), dryRun ? current.ResourceVersion : rv);
                        if (dryRun) return new WriteResult(final, false);
                        _rv = rv;
                        _buckets[storageKey] = bucket.Remove(key);
                        Unindex(storageKey, key, current);
                        committed = new WatchEvent(WatchEventType.Deleted, storageKey, final, current);
                        result = new WriteResult(final, true);
                        break;
                    }
                default:
                    throw new InvalidOperationException("unknown write decision");
            }
            Record(committed);
        }
        Committed?.Invoke(committed);
        return result;
    }

    /// <summary>Semantic equality (key order does not matter) ignoring metadata.resourceVersion.</summary>
    private static bool SameContent(JsonObject candidate, StoredObject current)
    {
        var existing = current.ToJson();
        var metadata = (JsonObject)candidate["metadata"]!;
        var saved = metadata["resourceVersion"];
        metadata.Remove("resourceVersion");
        ((JsonObject)existing["metadata"]!).Remove("resourceVersion");
        var same = JsonNode.DeepEquals(candidate, existing);
        if (saved is not null) metadata["resourceVersion"] = saved;
        return same;
    }

    private void Index(string storageKey, string key, StoredObject o)
    {
        if (o.Uid.Length > 0) _byUid[o.Uid] = (storageKey, key);
        foreach (var owner in o.OwnerUids)
        {
            if (!_dependents.TryGetValue(owner, out var set)) _dependents[owner] = set = [];
            set.Add((storageKey, key));
        }
    }

    private void Unindex(string storageKey, string key, StoredObject? o)
    {
        if (o is null) return;
        _byUid.Remove(o.Uid);
        foreach (var owner in o.OwnerUids)
        {
            if (_dependents.TryGetValue(owner, out var set) && set.Remove((storageKey, key)) && set.Count == 0) _dependents.Remove(owner);
        }
    }

    /// <summary>The live objects whose ownerReferences name <paramref name="ownerUid"/>.</summary>
    public IReadOnlyList<(string StorageKey, StoredObject Object)> DependentsOf(string ownerUid)
    {
        lock (_gate)
        {
            if (!_dependents.TryGetValue(ownerUid, out var set)) return [];
            return set.Select(d => (d.StorageKey, _buckets[d.StorageKey][d.Key])).ToList();
        }
    }

    /// <summary>The live object with this uid, if any.</summary>
    public (string StorageKey, StoredObject Object)? FindByUid(string uid)
    {
        lock (_gate)
        {
            return _byUid.TryGetValue(uid, out var at) ? (at.StorageKey, _buckets[at.StorageKey][at.Key]) : null;
        }
    }

    private void Record(WatchEvent e)
    {
        _history.Enqueue(e);
        while (_history.Count > _historySize)
        {
            _compactedRv = _history.Dequeue().ResourceVersion;
        }
        if (_watchers.TryGetValue(e.StorageKey, out var list))
        {
            for (var i = list.Count - 1; i >= 0; i--)
            {
                var w = list[i];
                if (!w.Offer(e)) list.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Starts a watch on a bucket. With a resourceVersion, replays retained history after it (410 Expired when
    /// it was compacted away); without one, first delivers the current objects as ADDED ("get state and start").
    /// </summary>
    public WatchSubscription Watch(string storageKey, string? ns, long? fromResourceVersion)
    {
        lock (_gate)
        {
            var sub = new WatchSubscription(this, storageKey, ns);
            if (fromResourceVersion is { } from)
            {
                if (from < _compactedRv)
                {
                    throw ApiError.Expired($"too old resource version: {from} ({_compactedRv + 1})");
                }
                foreach (var e in _history)
                {
                    if (e.ResourceVersion > from && e.StorageKey == storageKey) sub.Offer(e);
                }
            }
            else if (_buckets.TryGetValue(storageKey, out var bucket))
            {
                foreach (var o in bucket.Values)
                {
                    sub.Offer(new WatchEvent(WatchEventType.Added, storageKey, o, null));
                }
            }
            sub.StartResourceVersion = _rv;
            if (!_watchers.TryGetValue(storageKey, out var list)) _watchers[storageKey] = list = [];
            list.Add(sub);
            return sub;
        }
    }

    /// <summary>Checks that events after <paramref name="resourceVersion"/> are still retained (used by list continue).</summary>
    public bool IsCompacted(long resourceVersion)
    {
        lock (_gate) return resourceVersion < _compactedRv;
    }

    internal void Unsubscribe(WatchSubscription sub)
    {
        lock (_gate)
        {
            if (_watchers.TryGetValue(sub.StorageKey, out var list)) list.Remove(sub);
        }
    }

    /// <summary>Ends every open watch; clients see the stream close and must re-watch.</summary>
    public int DropAllWatches()
    {
        List<WatchSubscription> all;
        lock (_gate)
        {
            all = _watchers.Values.SelectMany(l => l).ToList();
            _watchers.Clear();
        }
        foreach (var w in all) w.Close();
        return all.Count;
    }

    /// <summary>Ends the watches on one bucket (its resource stopped being served).</summary>
    public void CloseWatches(string storageKey)
    {
        List<WatchSubscription>? list;
        lock (_gate)
        {
            if (_watchers.Remove(storageKey, out list) is false) return;
        }
        foreach (var w in list!) w.Close();
    }

    /// <summary>
    /// Forgets all history, as an etcd compaction would. The revision advances by one (revisions are opaque and
    /// shared by all resources, so a gap is ordinary), so every resourceVersion handed out before this call,
    /// including the latest, is now too old: watches and continues from them get 410 Expired.
    /// </summary>
    public void ExpireHistory()
    {
        lock (_gate)
        {
            _history.Clear();
            _rv++;
            _compactedRv = _rv;
        }
    }

    public int WatchCount
    {
        get { lock (_gate) return _watchers.Values.Sum(l => l.Count); }
    }
}

/// <summary>What a write decided: keep the object as it is, put a new state, or remove it.</summary>
internal abstract record WriteDecision
{
    public static readonly WriteDecision Keep = new KeepDecision();

    public sealed record KeepDecision : WriteDecision;

    public sealed record Put(JsonObject Object) : WriteDecision;

    public sealed record Remove(JsonObject? FinalState) : WriteDecision;
}

/// <summary>The object after a write (the removed state for deletes) and whether a new version was committed.</summary>
internal sealed record WriteResult(StoredObject? Object, bool Changed);

/// <summary>A live watch on one bucket. Overflow (a client that stopped reading) closes it, as the real cacher does.</summary>
internal sealed class WatchSubscription : IDisposable
{
    private const int Capacity = 1 << 20;
    private readonly ObjectStore _store;
    private readonly Channel<WatchEvent> _channel = Channel.CreateBounded<WatchEvent>(new BoundedChannelOptions(Capacity)
    {
        SingleReader = true,
        SingleWriter = false,
        FullMode = BoundedChannelFullMode.DropWrite,
    });

    public WatchSubscription(ObjectStore store, string storageKey, string? ns)
    {
        _store = store;
        StorageKey = storageKey;
        Namespace = ns;
    }

    public string StorageKey { get; }
    public string? Namespace { get; }
    public long StartResourceVersion { get; set; }
    public ChannelReader<WatchEvent> Events => _channel.Reader;

    internal bool Offer(WatchEvent e)
    {
        if (Namespace is not null && e.Object.Namespace != Namespace) return true;
        if (_channel.Writer.TryWrite(e)) return true;
        _channel.Writer.TryComplete();
        return false;
    }

    internal void Close() => _channel.Writer.TryComplete();

    public void Dispose()
    {
        _channel.Writer.TryComplete();
        _store.Unsubscribe(this);
    }
}
