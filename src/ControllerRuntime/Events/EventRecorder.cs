using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace ControllerRuntime.Events;

/// <summary>Whether an event reports routine progress or something a person should look at.</summary>
public enum EventType
{
    /// <summary>Routine: something was created or changed as asked.</summary>
    Normal,

    /// <summary>A refusal or a problem.</summary>
    Warning,
}

/// <summary>
/// Records core/v1 Events with client-go's deduplication: the same (object, type, reason, message) becomes one Event
/// whose count grows, and repeats within <c>MinRepeatInterval</c> are only counted in memory.
/// </summary>
public sealed partial class EventRecorder
{
    private const int MaxTracked = 4096;
    private readonly IKubernetes _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _component;
    private readonly string _instance;
    private readonly string _fieldManager;
    private readonly ConcurrentDictionary<string, Occurrence> _seen = new(StringComparer.Ordinal);

    /// <summary>
    /// Creates a recorder reporting as <paramref name="component"/> from <paramref name="instance"/>; its writes go out
    /// under field manager <paramref name="fieldManager"/>.
    /// </summary>
    public EventRecorder(IKubernetes client, TimeProvider time, ILogger<EventRecorder> logger, string component, string instance, string fieldManager)
    {
        _fieldManager = fieldManager;
        _client = client;
        _time = time;
        _logger = logger;
        _component = component;
        _instance = instance;
    }

    /// <summary>Repeats of one event closer together than this only bump an in-memory count.</summary>
    public TimeSpan MinRepeatInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Records an event about <paramref name="involved"/>. Never throws: events are best-effort.</summary>
    public async Task RecordAsync(IKubernetesObject<V1ObjectMeta> involved, EventType type, string reason, string message, CancellationToken cancellationToken)
    {
        var key = string.Join('\u001f', involved.Metadata.Uid, type, reason, message);
        var now = _time.GetUtcNow();
        var occurrence = _seen.GetOrAdd(key, _ => new Occurrence(EventName(involved, key)));
        int count;
        lock (occurrence)
        {
            occurrence.Count++;
            if (occurrence.Count > 1 && now - occurrence.LastSent < MinRepeatInterval) return;
            occurrence.LastSent = now;
            count = occurrence.Count;
        }
        Trim();

        try
        {
            if (count == 1)
            {
                await CreateAsync(involved, occurrence.Name, type, reason, message, now, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await BumpAsync(involved, occurrence.Name, count, now, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (HttpOperationException ex) when (IsNamespaceTerminating(ex))
        {
            // As client-go's event sink: an object whose namespace is being deleted (a finalizer's last words) has nowhere
            // to record to; the namespace and its events are going, so this is not a failure worth a warning.
            Log.NamespaceTerminating(_logger, reason, involved.Metadata.Name, involved.Metadata.NamespaceProperty ?? "default");
        }
        catch (Exception ex)
        {
            Log.RecordFailed(_logger, reason, involved.Metadata.Name, ex);
        }
    }

    private async Task CreateAsync(IKubernetesObject<V1ObjectMeta> involved, string name, EventType type, string reason, string message, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var ns = involved.Metadata.NamespaceProperty ?? "default";
        var evt = new Corev1Event
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
            InvolvedObject = new V1ObjectReference
            {
                ApiVersion = involved.ApiVersion,
                Kind = involved.Kind,
                Name = involved.Metadata.Name,
                NamespaceProperty = involved.Metadata.NamespaceProperty,
                Uid = involved.Metadata.Uid,
                ResourceVersion = involved.Metadata.ResourceVersion,
            },
            Type = type.ToString(),
            Reason = reason,
            Message = message,
            Count = 1,
            FirstTimestamp = now.UtcDateTime,
            LastTimestamp = now.UtcDateTime,
            Source = new V1EventSource { Component = _component },
            ReportingComponent = _component,
            ReportingInstance = _instance,
        };
        try
        {
            await _client.CoreV1.CreateNamespacedEventAsync(evt, ns, fieldManager: _fieldManager, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Recorded by an earlier run of the operator: count this occurrence on that Event.
            await BumpAsync(involved, name, 2, now, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task BumpAsync(IKubernetesObject<V1ObjectMeta> involved, string name, int count, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var patch = new { count, lastTimestamp = now.UtcDateTime };
        await _client.CoreV1.PatchNamespacedEventAsync(
            new V1Patch(KubernetesJson.Serialize(patch), V1Patch.PatchType.MergePatch),
            name, involved.Metadata.NamespaceProperty ?? "default", fieldManager: _fieldManager, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private void Trim()
    {
        if (_seen.Count <= MaxTracked) return;
        foreach (var stale in _seen.OrderBy(e => e.Value.LastSent).Take(_seen.Count - MaxTracked / 2).Select(e => e.Key).ToList())
        {
            _seen.TryRemove(stale, out _);
        }
    }

    // Deterministic, so a restarted operator finds (and counts on) the Event it created before.
    private static string EventName(IKubernetesObject<V1ObjectMeta> involved, string key)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];
        return $"{involved.Metadata.Name}.{hash}";
    }

    /// <summary>NamespaceLifecycle admission's refusal (403 with the NamespaceTerminating cause), not the authorizer's.</summary>
    internal static bool IsNamespaceTerminating(HttpOperationException ex)
    {
        if (ex.Response.StatusCode != HttpStatusCode.Forbidden || string.IsNullOrEmpty(ex.Response.Content)) return false;
        try
        {
            var status = KubernetesJson.Deserialize<V1Status>(ex.Response.Content);
            return status?.Details?.Causes?.Any(c => c.Reason == "NamespaceTerminating") == true;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    private sealed class Occurrence(string name)
    {
        public string Name { get; } = name;
        public int Count { get; set; }
        public DateTimeOffset LastSent { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Could not record event {Reason} for {Name}")]
        public static partial void RecordFailed(ILogger logger, string reason, string name, Exception exception);

        [LoggerMessage(2, LogLevel.Debug, "Event {Reason} for {Name} not recorded: namespace {Namespace} is being deleted")]
        public static partial void NamespaceTerminating(ILogger logger, string reason, string name, string @namespace);
    }
}
