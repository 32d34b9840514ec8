using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace ControllerRuntime.Finalizers;

/// <summary>Cleanup that must finish before an object may go away.</summary>
public interface IFinalizer<in T>
{
    /// <summary>Releases what <paramref name="item"/> holds; throw to retry later (the finalizer stays).</summary>
    Task FinalizeAsync(T item, CancellationToken cancellationToken);
}

/// <summary>
/// Finalizers keyed by name (controller-runtime's pkg/finalizer): adds the registered names to live objects, and on
/// deletion runs each one and removes it. Changes go out as patches of metadata.finalizers, never full updates.
/// </summary>
public sealed class FinalizerRegistry<T> where T : IKubernetesObject<V1ObjectMeta>
{
    private readonly Dictionary<string, IFinalizer<T>> _finalizers = new(StringComparer.Ordinal);

    /// <summary>Registers <paramref name="finalizer"/> under <paramref name="name"/> (a qualified name such as example.com/cleanup).</summary>
    public void Register(string name, IFinalizer<T> finalizer)
    {
        if (!_finalizers.TryAdd(name, finalizer)) throw new InvalidOperationException($"Finalizer '{name}' is already registered.");
    }

    /// <summary>
    /// Brings the object's finalizers in line: returns <c>Deleting = true</c> when the object is being deleted or is
    /// already gone (the caller should stop), and the object as patched when a patch was needed.
    /// </summary>
    public async Task<(bool Deleting, T Item)> ApplyAsync(
        T item,
        Func<T, IReadOnlyList<string>, CancellationToken, Task<T>> patchFinalizers,
        CancellationToken cancellationToken)
    {
        var current = item.Metadata.Finalizers?.ToList() ?? [];
        if (item.Metadata.DeletionTimestamp is null)
        {
            var missing = _finalizers.Keys.Where(name => !current.Contains(name)).ToList();
            if (missing.Count == 0) return (false, item);
            var added = await PatchOrGoneAsync(item, [.. current, .. missing], patchFinalizers, cancellationToken).ConfigureAwait(false);
            return added is null ? (true, item) : (false, added);
        }

        var ours = current.Where(_finalizers.ContainsKey).ToList();
        if (ours.Count == 0) return (true, item);
        foreach (var name in ours)
        {
            await _finalizers[name].FinalizeAsync(item, cancellationToken).ConfigureAwait(false);
        }
        var remaining = current.Where(name => !_finalizers.ContainsKey(name)).ToList();
        return (true, await PatchOrGoneAsync(item, remaining, patchFinalizers, cancellationToken).ConfigureAwait(false) ?? item);
    }

    // A reconcile can act on a cached object that was deleted a moment ago: the patch then answers 404. The object is
    // gone and so is the reason to patch it; the informer's delete event follows. Treating that as an error only
    // logged a failure and retried with backoff.
    private static async Task<T?> PatchOrGoneAsync(
        T item,
        IReadOnlyList<string> finalizers,
        Func<T, IReadOnlyList<string>, CancellationToken, Task<T>> patchFinalizers,
        CancellationToken cancellationToken)
    {
        try
        {
            return await patchFinalizers(item, finalizers, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response?.StatusCode == HttpStatusCode.NotFound)
        {
            return default;
        }
    }
}
