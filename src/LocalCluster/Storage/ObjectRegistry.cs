using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.Api;
using Kube.Local.Apply;
using Kube.Local.Crds;
using Kube.Local.Resources;

namespace Kube.Local.Storage;

/// <summary>
/// The generic registry: the API semantics on top of the store, as apiserver's generic registry and the
/// per-kind strategies give them. Create (uid, timestamps, generateName, namespace lifecycle), update
/// (resourceVersion preconditions, status subresource, generation), delete (finalizers, deletionTimestamp,
/// propagation policies), CRD schema admission and CRD registration.
/// </summary>
internal sealed class ObjectRegistry
{
    public const string ForegroundFinalizer = "foregroundDeletion";
    public const string OrphanFinalizer = "orphan";
    public const string CrdCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";

    private readonly ObjectStore _store;
    private readonly ResourceCatalog _catalog;
    private readonly TimeProvider _time;
    private readonly BuiltInStrategy _builtIns = new();
    private readonly ManagedFields _managedFields;

    public ObjectRegistry(ObjectStore store, ResourceCatalog catalog, TimeProvider time)
    {
        _store = store;
        _catalog = catalog;
        _time = time;
        _managedFields = new ManagedFields(time);
    }

    public ObjectStore Store => _store;
    public ResourceCatalog Catalog => _catalog;
    public ManagedFields ManagedFields => _managedFields;

    private string Now() => Timestamps.Format(_time.GetUtcNow());

    public StoredObject Get(ResourceType type, string ns, string name) =>
        _store.Get(type.StorageKey, ns, name) ?? throw ApiError.NotFound(type.Group, type.Plural, name);

    public StoredObject Create(ResourceType type, string ns, JsonObject body, WriteOptions options) =>
        CreateCore(type, ns, body, options, manageFields: true);

    private StoredObject CreateCore(ResourceType type, string ns, JsonObject body, WriteOptions options, bool manageFields)
    {
        body = Normalize(body);
        ObjectMetaShape.Check(body);
        CheckTypeMeta(type, body);
        var metadata = body["metadata"] as JsonObject ?? new JsonObject();
        body["metadata"] = metadata;
        CheckNamespace(type, ns, metadata);
        var name = Str(metadata, "name");
        if (name.Length == 0)
        {
            var generateName = Str(metadata, "generateName");
            if (generateName.Length == 0)
            {
                throw ApiError.Invalid(type.Group, type.Kind, "", [new StatusCause("FieldValueRequired", "Required value: name or generateName is required", "metadata.name")]);
            }
            name = ObjectNames.Generate(generateName);
            metadata["name"] = name;
        }
        if (metadata["resourceVersion"] is JsonValue rv && rv.ToString().Length > 0)
        {
            throw ApiError.BadRequest("resourceVersion should not be set on objects to be created");
        }
        var causes = new List<StatusCause>(ObjectNames.Validate(name, type.NameRule));
        if (type.Namespaced) EnsureNamespaceAcceptsContent(type, ns, name);

        metadata["uid"] = Guid.NewGuid().ToString();
        metadata["creationTimestamp"] = Now();
        metadata.Remove("deletionTimestamp");
        metadata.Remove("deletionGracePeriodSeconds");
        metadata.Remove("selfLink");
        metadata.Remove("resourceVersion");
        if (type.TracksGeneration) metadata["generation"] = 1;
        else metadata.Remove("generation");
        if (type.HasStatus && !type.IsBuiltIn) body.Remove("status");
        _builtIns.PrepareForCreate(type, body);
        if (type is { Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition" })
        {
            CrdDefinition.ApplyDefaults(body);
            causes.AddRange(CrdDefinition.Validate(body));
            if (causes.Count == 0)
            {
                CrdDefinition.SetEstablishedStatus(body, Now());
                AddFinalizer(metadata, CrdCleanupFinalizer);
            }
        }
        causes.AddRange(Admit(type, body, options));
        causes.AddRange(LabelCauses(metadata));
        if (causes.Count > 0) throw ApiError.Invalid(type.Group, type.Kind, name, causes);
        if (manageFields) _managedFields.RecordUpdate(null, body, options.FieldManager, type.GroupVersion, "Update", subresource: null, type.IsBuiltIn);
        var result = Write(type, ns, name, current =>
            current is null ? new WriteDecision.Put(body) : throw ApiError.AlreadyExists(type.Group, type.Plural, name), options.DryRun);
        AfterWrite(type, result);
        return result.Object!;
    }

    /// <summary>PUT: replaces the object (or only its status through the status subresource).</summary>
    public StoredObject Update(ResourceType type, string ns, string name, JsonObject body, bool statusSubresource, WriteOptions options)
    {
        ObjectMetaShape.Check(body);
        CheckTypeMeta(type, body);
        var metadata = body["metadata"] as JsonObject ?? throw ApiError.BadRequest("metadata is required for an update");
        CheckNamespace(type, ns, metadata);
        var bodyName = Str(metadata, "name");
        if (bodyName != name)
        {
            throw ApiError.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        }
        return Mutate(type, ns, name, statusSubresource, options, "Update", _ => body.DeepClone().AsObject(), out _);
    }

    /// <summary>
    /// Applies <paramref name="patch"/> to the current object and stores the result with update semantics.
    /// The patch runs under the write lock, so concurrent patches never see a stale object (no 409 unless the
    /// patch itself carries a resourceVersion).
    /// </summary>
    /// <remarks><paramref name="writesStatus"/>: a write that changes spec and status together, as pods/binding does.</remarks>
    public StoredObject Patch(ResourceType type, string ns, string name, bool statusSubresource, WriteOptions options,
        string operation, out bool created, Func<JsonObject?, JsonObject> patch, bool writesStatus = false)
    {
        return Mutate(type, ns, name, statusSubresource, options, operation, patch, out created, createIfMissing: operation == "Apply", writesStatus);
    }

    private StoredObject Mutate(ResourceType type, string ns, string name, bool statusSubresource, WriteOptions options,
        string operation, Func<JsonObject?, JsonObject> produce, out bool created, bool createIfMissing = false, bool writesStatus = false)
    {
        created = false;
        if (createIfMissing && _store.Get(type.StorageKey, ns, name) is null)
        {
            var fresh = produce(null);
            ObjectMetaShape.Check(fresh);
            CheckTypeMeta(type, fresh);
            var meta = (JsonObject)(fresh["metadata"] ??= new JsonObject());
            meta["name"] = name;
            if (type.Namespaced) meta["namespace"] = ns;
            try
            {
                var made = CreateCore(type, ns, fresh, options, manageFields: false);
                created = true;
                return made;
            }
            catch (ApiError e) when (e.Reason == "AlreadyExists")
            {
                // Lost a race with another creator: fall through to an update of what they made.
            }
        }
        var result = Write(type, ns, name, current =>
        {
            if (current is null) throw ApiError.NotFound(type.Group, type.Plural, name);
            var old = current.ToJson();
            var candidate = Normalize(produce(current.ToJson()));
            ObjectMetaShape.Check(candidate);
            CheckTypeMeta(type, candidate);
            var meta = candidate["metadata"] as JsonObject ?? throw ApiError.BadRequest("metadata is required");
            var oldMeta = (JsonObject)old["metadata"]!;
            var requestedRv = Str(meta, "resourceVersion");
            if (requestedRv.Length > 0 && requestedRv != current.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw ApiError.StaleResourceVersion(type.Group, type.Plural, name);
            }
            // Custom resources and CRDs do not allow unconditional updates (AllowUnconditionalUpdate is false).
            var unconditionalAllowed = type.IsBuiltIn && type.Kind != "CustomResourceDefinition";
            if (requestedRv.Length == 0 && !unconditionalAllowed)
            {
                throw ApiError.Invalid(type.Group, type.Kind, name, [new StatusCause("FieldValueInvalid", "Invalid value: 0: must be specified for an update", "metadata.resourceVersion")]);
            }

            JsonObject next;
            if (statusSubresource)
            {
                // ResetObjectMetaForStatus: a status write changes status and nothing else.
                next = old.DeepClone().AsObject();
                if (candidate["status"] is { } s) next["status"] = s.DeepClone();
                else next.Remove("status");
                if (operation == "Apply")
                {
                    // Apply computed the new field ownership on the candidate; keep it.
                    var nextMeta = (JsonObject)next["metadata"]!;
                    if (meta["managedFields"] is { } mf) nextMeta["managedFields"] = mf.DeepClone();
                    else nextMeta.Remove("managedFields");
                }
            }
            else
            {
                next = candidate;
                if (type.HasStatus && !writesStatus)
                {
                    if (old["status"] is { } s) next["status"] = s.DeepClone();
                    else next.Remove("status");
                }
                var nextMeta = (JsonObject)next["metadata"]!;
                foreach (var key in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "namespace" })
                {
                    if (oldMeta[key] is { } v) nextMeta[key] = v.DeepClone();
                    else nextMeta.Remove(key);
                }
                nextMeta.Remove("selfLink");
                if (current.IsDeleting)
                {
                    var before = current.Finalizers.ToHashSet();
                    var added = Finalizers(nextMeta).Where(f => !before.Contains(f)).ToList();
                    if (added.Count > 0)
                    {
                        throw ApiError.Invalid(type.Group, type.Kind, name,
                            [new StatusCause("FieldValueForbidden", "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers " + JsonSerializer.Serialize(added), "metadata.finalizers")]);
                    }
                }
                _builtIns.PrepareForUpdate(type, old, next);
            }
            var causes = new List<StatusCause>();
            if (type.Kind == "CustomResourceDefinition" && type.Group == "apiextensions.k8s.io" && !statusSubresource)
            {
                CrdDefinition.ApplyDefaults(next);
                causes.AddRange(CrdDefinition.Validate(next));
                if (causes.Count == 0) CrdDefinition.SetEstablishedStatus(next, Now());
            }
            causes.AddRange(Admit(type, next, options));
            causes.AddRange(LabelCauses((JsonObject)next["metadata"]!));
            causes.AddRange(BuiltInStrategy.Validate(type, next));
            if (!statusSubresource) causes.AddRange(BuiltInStrategy.ValidateUpdate(type, old, next));
            if (causes.Count > 0) throw ApiError.Invalid(type.Group, type.Kind, name, causes);

            if (type.TracksGeneration && !statusSubresource && SpecChanged(old, next))
            {
                ((JsonObject)next["metadata"]!)["generation"] = (oldMeta["generation"]?.GetValue<long>() ?? 0) + 1;
            }
            if (operation != "Apply")
            {
                _managedFields.RecordUpdate(old, next, options.FieldManager, type.GroupVersion, "Update", statusSubresource ? "status" : null, type.IsBuiltIn);
            }
            // ShouldDeleteDuringUpdate: only an object waiting on finalizers (grace 0) goes when its last one does; a pod in
            // its termination grace period stays until its kubelet deletes it.
            if (current.IsDeleting && oldMeta["deletionGracePeriodSeconds"]?.GetValue<long>() is null or 0 &&
                Finalizers((JsonObject)next["metadata"]!).Count == 0 && !HasNamespaceFinalizers(type, next))
            {
                return new WriteDecision.Remove(next);
            }
            return new WriteDecision.Put(next);
        }, options.DryRun);
        AfterWrite(type, result);
        return result.Object!;
    }

    /// <summary>DELETE: removes the object now, or marks it for deletion while finalizers remain.</summary>
    public (StoredObject Object, bool Removed) Delete(ResourceType type, string ns, string name, DeleteOptions options)
    {
        var policy = options.PropagationPolicy ?? "Background";
        if (policy is not ("Background" or "Foreground" or "Orphan"))
        {
            throw ApiError.BadRequest($"DeleteOptions.propagationPolicy: Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\"");
        }
        if (type is { Group: "", Kind: "Namespace" } && name is "default" or "kube-system" or "kube-public")
        {
            // NamespaceLifecycle admission protects the immortal namespaces.
            throw ApiError.Forbidden("", "namespaces", name, "this namespace may not be deleted");
        }
        var removed = false;
        var result = Write(type, ns, name, current =>
        {
            if (current is null) throw ApiError.NotFound(type.Group, type.Plural, name);
            if (options.PreconditionUid is { } uid && uid != current.Uid)
            {
                throw ApiError.Conflict(type.Group, type.Plural, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {current.Uid}");
            }
            if (options.PreconditionResourceVersion is { } prv && prv != current.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw ApiError.Conflict(type.Group, type.Plural, name, $"Precondition failed: ResourceVersion in precondition: {prv}, ResourceVersion in object meta: {current.ResourceVersion}");
            }
            var obj = current.ToJson();
            var meta = (JsonObject)obj["metadata"]!;
            if (PodGracePeriod(type, obj, options) is { } grace and > 0)
            {
                // Graceful pod deletion: the pod stays, marked, until its node's kubelet stops it and deletes it with grace 0.
                var currentGrace = meta["deletionGracePeriodSeconds"]?.GetValue<long>();
                if (currentGrace is not null && currentGrace <= grace) return new WriteDecision.Put(obj);
                meta["deletionTimestamp"] = Timestamps.Format(_time.GetUtcNow().AddSeconds(grace));
                meta["deletionGracePeriodSeconds"] = grace;
                return new WriteDecision.Put(obj);
            }
            var hasDependents = policy != "Background" && HasDependents(current.Uid);
            if (policy == "Foreground" && hasDependents) AddFinalizer(meta, ForegroundFinalizer);
            if (policy == "Orphan" && hasDependents) AddFinalizer(meta, OrphanFinalizer);
            if (Finalizers(meta).Count == 0 && !HasNamespaceFinalizers(type, obj))
            {
                removed = true;
                return new WriteDecision.Remove(obj);
            }
            if (!current.IsDeleting || meta["deletionGracePeriodSeconds"]?.GetValue<long>() is > 0)
            {
                // A pod in its grace period deleted with grace 0 (its kubelet is done) now waits only on its finalizers.
                meta["deletionTimestamp"] = Now();
                meta["deletionGracePeriodSeconds"] = 0;
                if (type is { Group: "", Kind: "Namespace" })
                {
                    BuiltInStrategy.Obj(obj, "status")["phase"] = "Terminating";
                }
            }
            return new WriteDecision.Put(obj);
        }, options.DryRun);
        AfterWrite(type, result);
        return (result.Object!, removed);
    }

    /// <summary>
    /// The grace period of a pod deletion (the pod strategy's CheckGracefulDelete): the request's, else the pod's
    /// terminationGracePeriodSeconds; 0 for a pod on no node or already finished. Here also 0 for a pod bound to a node
    /// that is not registered (LocalCluster's PodDriver binds to a node name with no Node object), standing in for the
    /// pod garbage collector that force-deletes such orphans. Null for every other kind.
    /// </summary>
    private long? PodGracePeriod(ResourceType type, JsonObject pod, DeleteOptions options)
    {
        if (type is not { Group: "", Kind: "Pod" }) return null;
        var grace = options.GracePeriodSeconds ?? pod["spec"]?["terminationGracePeriodSeconds"]?.GetValue<long>() ?? 30;
        var node = pod["spec"]?["nodeName"]?.GetValue<string>() ?? "";
        var phase = pod["status"]?["phase"]?.GetValue<string>();
        if (node.Length == 0 || phase is "Succeeded" or "Failed") return 0;
        var nodeType = _catalog.Find("", "v1", "nodes");
        if (nodeType is null || _store.Get(nodeType.StorageKey, "", node) is null) return 0;
        return grace;
    }

    private bool HasDependents(string uid) => _store.DependentsOf(uid).Count > 0;

    private static bool HasNamespaceFinalizers(ResourceType type, JsonObject obj) =>
        type is { Group: "", Kind: "Namespace" } && obj["spec"]?["finalizers"] is JsonArray { Count: > 0 };

    /// <summary>
    /// A store write; a CRD's final removal stops serving its custom resources under the same write lock, so nobody
    /// who has seen the CRD gone can still list them (before, the catalog changed after the commit and a client on a
    /// loaded machine could read NotFound for the CRD and still list its resources).
    /// </summary>
    private WriteResult Write(ResourceType type, string ns, string name, Func<StoredObject?, WriteDecision> mutate, bool dryRun)
    {
        if (dryRun || type.Group != "apiextensions.k8s.io") return _store.Write(type.StorageKey, ns, name, mutate, dryRun);
        return _store.Write(type.StorageKey, ns, name, current =>
        {
            var decision = mutate(current);
            if (decision is WriteDecision.Remove && current is not null) _catalog.SetCustomResources(current.Name, []);
            return decision;
        }, dryRun);
    }

    /// <summary>Keeps the served custom resources in step with the stored CRDs.</summary>
    private void AfterWrite(ResourceType type, WriteResult result)
    {
        if (!result.Changed || type.Group != "apiextensions.k8s.io" || result.Object is null) return;
        var crd = _store.Get(type.StorageKey, "", result.Object.Name);
        if (crd is null)
        {
            _catalog.SetCustomResources(result.Object.Name, []);
            var parts = result.Object.Name.Split('.', 2);
            if (parts.Length == 2) _store.CloseWatches($"{parts[1]}/{parts[0]}");
        }
        else
        {
            _catalog.SetCustomResources(crd.Name, CrdDefinition.ServedResources(crd.ToJson()));
        }
    }

    private IEnumerable<StatusCause> Admit(ResourceType type, JsonObject obj, WriteOptions options)
    {
        if (type.Schema is null) return [];
        var (unknown, causes) = type.Schema.Admit(obj);
        if (unknown.Count > 0)
        {
            switch (options.FieldValidation)
            {
                case FieldValidation.Strict:
                    throw ApiError.BadRequest("strict decoding error: " + string.Join(", ", unknown.Select(u => $"unknown field \"{u}\"")));
                case FieldValidation.Warn:
                    options.Warnings.AddRange(unknown.Select(u => $"unknown field \"{u}\""));
                    break;
            }
        }
        return causes;
    }

    private static IEnumerable<StatusCause> LabelCauses(JsonObject metadata)
    {
        if (metadata["labels"] is not JsonObject labels) return [];
        var dict = new Dictionary<string, string>();
        foreach (var (k, v) in labels)
        {
            if (v is JsonValue value && value.GetValueKind() == JsonValueKind.String) dict[k] = value.GetValue<string>();
            else return [new StatusCause("FieldValueInvalid", $"Invalid value: {v?.ToJsonString() ?? "null"}: label values must be strings", $"metadata.labels.{k}")];
        }
        return ObjectNames.ValidateLabels(dict);
    }

    private static bool SpecChanged(JsonObject old, JsonObject next)
    {
        foreach (var (key, value) in next)
        {
            if (key is "metadata" or "status" or "apiVersion" or "kind") continue;
            if (!JsonNode.DeepEquals(value, old[key])) return true;
        }
        foreach (var (key, _) in old)
        {
            if (key is "metadata" or "status" or "apiVersion" or "kind") continue;
            if (!next.ContainsKey(key)) return true;
        }
        return false;
    }

    private static void CheckTypeMeta(ResourceType type, JsonObject body)
    {
        var apiVersion = body["apiVersion"]?.GetValue<string>();
        var kind = body["kind"]?.GetValue<string>();
        if (kind is not null && kind != type.Kind)
        {
            throw ApiError.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({type.Kind}) for {type.QualifiedResource}");
        }
        if (apiVersion is not null && apiVersion != type.GroupVersion)
        {
            throw ApiError.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({type.GroupVersion})");
        }
        body["apiVersion"] = type.GroupVersion;
        body["kind"] = type.Kind;
    }

    private static void CheckNamespace(ResourceType type, string ns, JsonObject metadata)
    {
        if (!type.Namespaced)
        {
            metadata.Remove("namespace");
            return;
        }
        var bodyNs = Str(metadata, "namespace");
        if (bodyNs.Length > 0 && bodyNs != ns)
        {
            throw ApiError.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }
        metadata["namespace"] = ns;
    }

    private void EnsureNamespaceAcceptsContent(ResourceType type, string ns, string name)
    {
        var nsType = _catalog.Find("", "v1", "namespaces")!;
        var namespaceObj = _store.Get(nsType.StorageKey, "", ns) ?? throw ApiError.NotFound("", "namespaces", ns);
        if (namespaceObj.IsDeleting)
        {
            throw ApiError.NamespaceTerminating(type.Group, type.Plural, name, ns);
        }
    }

    /// <summary>
    /// Re-reads an object built or patched in memory so every value behaves like parsed JSON (a number set from a
    /// long reads as double, and the other way round), whatever code produced it.
    /// </summary>
    private static JsonObject Normalize(JsonObject obj) =>
        JsonNode.Parse(JsonSerializer.SerializeToUtf8Bytes(obj, JsonOptions.Compact))!.AsObject();

    internal static List<string> Finalizers(JsonObject meta) =>
        meta["finalizers"] is JsonArray f ? f.Select(x => x?.GetValue<string>() ?? "").ToList() : [];

    internal static void AddFinalizer(JsonObject meta, string finalizer)
    {
        if (meta["finalizers"] is not JsonArray f)
        {
            meta["finalizers"] = new JsonArray(finalizer);
            return;
        }
        if (!f.Any(x => x?.GetValue<string>() == finalizer)) f.Add(finalizer);
    }

    internal static string Str(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";
}
