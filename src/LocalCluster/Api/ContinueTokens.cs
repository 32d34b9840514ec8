using System.Collections.Immutable;
using System.Text;
using System.Text.Json.Nodes;
using Kube.Local.Storage;

namespace Kube.Local.Api;

/// <summary>One page of a list: items, the resourceVersion of the snapshot, and the continue token for the rest.</summary>
internal sealed record ListPage(IReadOnlyList<StoredObject> Items, long ResourceVersion, string? Continue, long? RemainingItemCount);

/// <summary>
/// limit/continue paging with etcd's guarantee: every page of one list comes from the same snapshot. Snapshots
/// are immutable trees, so keeping the few in use is cheap; a token whose snapshot is gone gets 410 Expired,
/// as a token from a compacted revision does on a real server.
/// </summary>
internal sealed class ContinueTokens
{
    private const int MaxSnapshots = 64;
    private readonly object _gate = new();
    private readonly LinkedList<(string Key, long Rv, ImmutableSortedDictionary<string, StoredObject> Items)> _snapshots = new();

    public ListPage Page(ObjectStore store, string storageKey, string? continueToken, int limit, Func<StoredObject, bool> filter)
    {
        ImmutableSortedDictionary<string, StoredObject> items;
        long rv;
        string? start = null;
        if (!string.IsNullOrEmpty(continueToken))
        {
            (rv, start) = Decode(continueToken);
            var found = Find(storageKey, rv);
            if (found is null || store.IsCompacted(rv))
            {
                throw ApiError.Expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
            }
            items = found;
        }
        else
        {
            (items, rv) = store.Snapshot(storageKey);
        }
        var page = new List<StoredObject>();
        string? lastKey = null;
        var more = false;
        long remaining = 0;
        foreach (var (key, obj) in items)
        {
            if (start is not null && string.CompareOrdinal(key, start) <= 0) continue;
            if (!filter(obj)) continue;
            if (limit > 0 && page.Count >= limit)
            {
                more = true;
                remaining++;
                continue;
            }
            page.Add(obj);
            lastKey = key;
        }
        if (!more) return new ListPage(page, rv, null, null);
        Remember(storageKey, rv, items);
        return new ListPage(page, rv, Encode(rv, lastKey!), remaining);
    }

    private ImmutableSortedDictionary<string, StoredObject>? Find(string key, long rv)
    {
        lock (_gate)
        {
            foreach (var s in _snapshots)
            {
                if (s.Key == key && s.Rv == rv) return s.Items;
            }
            return null;
        }
    }

    private void Remember(string key, long rv, ImmutableSortedDictionary<string, StoredObject> items)
    {
        lock (_gate)
        {
            foreach (var s in _snapshots)
            {
                if (s.Key == key && s.Rv == rv) return;
            }
            _snapshots.AddFirst((key, rv, items));
            while (_snapshots.Count > MaxSnapshots) _snapshots.RemoveLast();
        }
    }

    private static string Encode(long rv, string start) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["v"] = "meta.k8s.io/v1", ["rv"] = rv, ["start"] = start }.ToJsonString()))
            .Replace('+', '-').Replace('/', '_').TrimEnd('=');

    private static (long Rv, string Start) Decode(string token)
    {
        try
        {
            var b64 = token.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            var obj = JsonNode.Parse(Convert.FromBase64String(b64)) as JsonObject;
            return (obj!["rv"]!.GetValue<long>(), obj["start"]!.GetValue<string>());
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or NullReferenceException or InvalidOperationException)
        {
            throw ApiError.BadRequest($"continue key is not valid: {e.Message}");
        }
    }
}
