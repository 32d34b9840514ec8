using System.Collections.Concurrent;
using k8s;
using k8s.Models;

namespace ControllerRuntime.Informers;

/// <summary>The informers' shared, read-only-to-reconcilers view of one kind of resource, keyed by namespace/name.</summary>
public sealed class ResourceCache<T> where T : IKubernetesObject<V1ObjectMeta>
{
    private readonly ConcurrentDictionary<string, T> _items = new(StringComparer.Ordinal);

    /// <summary>How many objects are cached.</summary>
    public int Count => _items.Count;

    /// <summary>The cached object, or null when the cache has none by that name.</summary>
    public T? Get(string? @namespace, string name) =>
        _items.TryGetValue(ObjectKey.Format(@namespace, name), out var item) ? item : default;

    /// <summary>Cached objects in <paramref name="namespace"/> (null: all) that match <paramref name="predicate"/>.</summary>
    public IReadOnlyList<T> List(string? @namespace, Func<T, bool>? predicate = null)
    {
        var result = new List<T>();
        // Enumerating the dictionary itself takes no locks; its Values property would lock every bucket and copy them all
        // on each call, and reconcilers list on every reconcile.
        foreach (var (_, item) in _items)
        {
            if (@namespace is not null && item.Metadata.NamespaceProperty != @namespace) continue;
            if (predicate is null || predicate(item)) result.Add(item);
        }
        return result;
    }

    internal T? Upsert(T item)
    {
        T? previous = default;
        _items.AddOrUpdate(ObjectKey.Of(item), item, (_, old) =>
        {
            previous = old;
            return item;
        });
        return previous;
    }

    internal T? Remove(string key) => _items.TryRemove(key, out var old) ? old : default;

    internal IEnumerable<KeyValuePair<string, T>> Entries => _items;
}

/// <summary>The namespace/name key that the cache and the work queue use.</summary>
public static class ObjectKey
{
    /// <summary>Formats "namespace/name", or just "name" for cluster-scoped objects.</summary>
    public static string Format(string? @namespace, string name) =>
        string.IsNullOrEmpty(@namespace) ? name : @namespace + "/" + name;

    /// <summary>The key of <paramref name="item"/>.</summary>
    public static string Of(IKubernetesObject<V1ObjectMeta> item) =>
        Format(item.Metadata.NamespaceProperty, item.Metadata.Name);

    /// <summary>Splits a key back into namespace (null when cluster-scoped) and name.</summary>
    public static (string? Namespace, string Name) Parse(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? (null, key) : (key[..slash], key[(slash + 1)..]);
    }
}
