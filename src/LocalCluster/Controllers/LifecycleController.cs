using System.Text.Json.Nodes;
using System.Threading.Channels;
using Kube.Local.Api;
using Kube.Local.Resources;
using Kube.Local.Storage;
using Microsoft.Extensions.Logging;

namespace Kube.Local.Controllers;

/// <summary>
/// The control loops every cluster has, in one worker fed by committed changes: the garbage collector
/// (background deletion of dependents, foreground and orphan finalizers), the namespace controller (empties a
/// terminating namespace, then finalizes it) and CRD cleanup (removes custom resources of a deleted CRD).
/// </summary>
internal sealed partial class LifecycleController : IAsyncDisposable
{
    private readonly ObjectRegistry _registry;
    private readonly ILogger _logger;
    private readonly Channel<WatchEvent> _events = Channel.CreateUnbounded<WatchEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly WriteOptions _options = new(false, "local-cluster-controller-manager", FieldValidation.Ignore);
    private readonly Action<WatchEvent> _subscription;

    public LifecycleController(ObjectRegistry registry, ILogger logger)
    {
        _registry = registry;
        _logger = logger;
        _subscription = e => _events.Writer.TryWrite(e);
        registry.Store.Committed += _subscription;
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    private ObjectStore Store => _registry.Store;

    private async Task RunAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(ct))
            {
                try
                {
                    Handle(e);
                }
                catch (ApiError ex) when (ex.Code is 404 or 409)
                {
                    // The object moved on meanwhile; the change that moved it queues its own event.
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.Failed(_logger, e.Object.Namespace, e.Object.Name, ex);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private void Handle(WatchEvent e)
    {
        var o = e.Object;
        if (e.Type == WatchEventType.Deleted)
        {
            foreach (var (type, dependent) in Dependents(o.Uid)) CollectOrphanedDependent(type, dependent, o.Uid);
            if (o.Namespace.Length > 0) Reconcile("/namespaces", "", o.Namespace);
            foreach (var ownerUid in o.OwnerUids) ReconcileUid(ownerUid);
            if (!e.StorageKey.StartsWith('/') && e.StorageKey.Split('/') is [var group, var plural] && group.Contains('.', StringComparison.Ordinal))
            {
                Reconcile("apiextensions.k8s.io/customresourcedefinitions", "", $"{plural}.{group}");
            }
            return;
        }
        if (o.IsDeleting) Reconcile(e.StorageKey, o.Namespace, o.Name);
    }

    private void ReconcileUid(string uid)
    {
        if (Store.FindByUid(uid) is { } found && found.Object.IsDeleting) Reconcile(found.StorageKey, found.Object.Namespace, found.Object.Name);
    }

    /// <summary>Moves a deleting object forward: handles its finalizers that belong to the control plane.</summary>
    private void Reconcile(string storageKey, string ns, string name)
    {
        var obj = Store.Get(storageKey, ns, name);
        if (obj is null || !obj.IsDeleting) return;
        var type = TypeOf(storageKey);
        if (type is null) return;
        if (obj.Finalizers.Contains(ObjectRegistry.OrphanFinalizer))
        {
            foreach (var (depType, dep) in Dependents(obj.Uid)) RemoveOwnerReference(depType, dep, obj.Uid);
            RemoveFinalizer(type, obj, ObjectRegistry.OrphanFinalizer);
            return;
        }
        if (obj.Finalizers.Contains(ObjectRegistry.ForegroundFinalizer))
        {
            var dependents = Dependents(obj.Uid).ToList();
            if (dependents.Count == 0)
            {
                RemoveFinalizer(type, obj, ObjectRegistry.ForegroundFinalizer);
                return;
            }
            foreach (var (depType, dep) in dependents)
            {
                if (!dep.IsDeleting) _registry.Delete(depType, dep.Namespace, dep.Name, new DeleteOptions("Foreground", null, null, false));
            }
            return;
        }
        if (type is { Group: "", Kind: "Namespace" })
        {
            var remaining = 0;
            foreach (var t in Types().Where(t => t.Namespaced))
            {
                foreach (var item in Store.Snapshot(t.StorageKey).Items.Values.Where(i => i.Namespace == name).ToList())
                {
                    remaining++;
                    if (!item.IsDeleting) _registry.Delete(t, item.Namespace, item.Name, new DeleteOptions("Background", null, null, false));
                }
            }
            if (remaining == 0)
            {
                _registry.Patch(type, "", name, false, _options, "Update", out _, current =>
                {
                    BuiltInStrategy.Obj(current!, "spec")["finalizers"] = new JsonArray();
                    return current!;
                });
            }
            return;
        }
        if (type is { Group: "apiextensions.k8s.io" } && obj.Finalizers.Contains(ObjectRegistry.CrdCleanupFinalizer))
        {
            var parts = name.Split('.', 2);
            var crKey = $"{parts[1]}/{parts[0]}";
            var crType = TypeOf(crKey);
            var items = Store.Snapshot(crKey).Items.Values.ToList();
            if (items.Count == 0 || crType is null)
            {
                RemoveFinalizer(type, obj, ObjectRegistry.CrdCleanupFinalizer);
                return;
            }
            foreach (var item in items)
            {
                if (!item.IsDeleting) _registry.Delete(crType, item.Namespace, item.Name, new DeleteOptions("Background", null, null, false));
            }
        }
    }

    /// <summary>A dependent whose owner is gone: deleted, unless another owner of it still exists.</summary>
    private void CollectOrphanedDependent(ResourceType type, StoredObject dependent, string goneOwnerUid)
    {
        var otherOwners = dependent.OwnerUids.Where(u => u != goneOwnerUid).ToList();
        if (otherOwners.Any(Exists))
        {
            RemoveOwnerReference(type, dependent, goneOwnerUid);
            return;
        }
        if (!dependent.IsDeleting) _registry.Delete(type, dependent.Namespace, dependent.Name, new DeleteOptions("Background", null, null, false));
    }

    private bool Exists(string uid) => Store.FindByUid(uid) is not null;

    private void RemoveOwnerReference(ResourceType type, StoredObject dependent, string ownerUid)
    {
        _registry.Patch(type, dependent.Namespace, dependent.Name, false, _options, "Update", out _, current =>
        {
            var meta = (JsonObject)current!["metadata"]!;
            if (meta["ownerReferences"] is JsonArray refs)
            {
                var kept = refs.Where(r => r?["uid"]?.GetValue<string>() != ownerUid).Select(r => r!.DeepClone()).ToArray();
                if (kept.Length == 0) meta.Remove("ownerReferences");
                else meta["ownerReferences"] = new JsonArray(kept);
            }
            return current;
        });
    }

    private void RemoveFinalizer(ResourceType type, StoredObject obj, string finalizer)
    {
        _registry.Patch(type, obj.Namespace, obj.Name, false, _options, "Update", out _, current =>
        {
            var meta = (JsonObject)current!["metadata"]!;
            var kept = ObjectRegistry.Finalizers(meta).Where(f => f != finalizer).Select(f => (JsonNode)f).ToArray();
            if (kept.Length == 0) meta.Remove("finalizers");
            else meta["finalizers"] = new JsonArray(kept);
            return current;
        });
    }

    private IEnumerable<(ResourceType Type, StoredObject Object)> Dependents(string ownerUid)
    {
        foreach (var (storageKey, o) in Store.DependentsOf(ownerUid))
        {
            if (TypeOf(storageKey) is { } type) yield return (type, o);
        }
    }

    private IEnumerable<ResourceType> Types() =>
        _registry.Catalog.All.Where(t => t.Group != "events.k8s.io").DistinctBy(t => t.StorageKey);

    private ResourceType? TypeOf(string storageKey) => Types().FirstOrDefault(t => t.StorageKey == storageKey);

    public async ValueTask DisposeAsync()
    {
        Store.Committed -= _subscription;
        _events.Writer.TryComplete();
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
            // Expected on shutdown.
        }
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Lifecycle handling of {Namespace}/{Name} failed")]
        public static partial void Failed(ILogger logger, string @namespace, string name, Exception e);
    }
}
