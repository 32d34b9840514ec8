using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.Resources;
using Kube.Local.Storage;
using Microsoft.AspNetCore.Http;

namespace Kube.Local.Api;

internal sealed partial class ApiHandler
{
    /// <summary>
    /// A watch: newline-delimited {"type","object"} events. Without resourceVersion (or "0") it starts with the
    /// current objects as ADDED; with one, it replays retained history after it, or sends a single ERROR event
    /// with a 410 Expired Status (as the watch cache does) when that history is gone. Selector-filtered watches
    /// turn "started matching" into ADDED and "stopped matching" into DELETED. Bookmarks when allowed.
    /// </summary>
    private async Task WatchAsync(HttpContext ctx, ResourceType type, string? ns, CancellationToken ct)
    {
        var query = ctx.Request.Query;
        var labels = LabelSelector.Parse(query["labelSelector"]);
        var fields = FieldSelector.Parse(query["fieldSelector"], type);
        var bookmarks = ApiRequestReader.IsTrue(query["allowWatchBookmarks"]);
        var sendInitialEvents = ApiRequestReader.IsTrue(query["sendInitialEvents"]);
        var rvText = query["resourceVersion"].ToString();
        long? from = null;
        if (rvText.Length > 0 && rvText != "0" && !sendInitialEvents)
        {
            if (!long.TryParse(rvText, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                throw ApiError.BadRequest($"invalid resource version: \"{rvText}\"");
            }
            from = parsed;
        }
        TimeSpan timeout;
        if (query["timeoutSeconds"].ToString() is { Length: > 0 } ts)
        {
            if (!int.TryParse(ts, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            {
                throw ApiError.BadRequest($"invalid timeoutSeconds \"{ts}\": must be a non-negative integer");
            }
            timeout = TimeSpan.FromSeconds(seconds);
        }
        else
        {
            // The real server ends watches after a random 30-60 minutes so clients learn to re-watch.
            timeout = TimeSpan.FromMinutes(30 + RandomNumberGenerator.GetInt32(30));
        }
        var table = ApiRequestReader.WantsTable(ctx);
        var storage = StorageType(type);

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        ctx.Response.Headers.CacheControl = "no-cache, private";
        WatchSubscription sub;
        try
        {
            sub = _registry.Store.Watch(storage.StorageKey, ns, from);
        }
        catch (ApiError e) when (e.Code == 410)
        {
            var line = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["type"] = "ERROR", ["object"] = e.ToStatus() }, JsonOptions.Compact);
            await ctx.Response.Body.WriteAsync(line, ct);
            await ctx.Response.Body.WriteAsync("\n"u8.ToArray(), ct);
            return;
        }
        using var _ = sub;
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeoutCts.CancelAfter(timeout);
        var token = timeoutCts.Token;
        await ctx.Response.StartAsync(ct);
        // Headers out now: clients (kubectl wait, informers) treat the watch as established only then.
        await ctx.Response.Body.FlushAsync(ct);
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        var initialPending = from is null ? CountInitial(sub) : 0;
        var initialEndSent = !(sendInitialEvents && bookmarks);
        var lastRv = from ?? 0;
        try
        {
            var reader = sub.Events;
            Task<bool>? waitTask = null;
            while (!token.IsCancellationRequested)
            {
                waitTask ??= reader.WaitToReadAsync(token).AsTask();
                if (bookmarks)
                {
                    using (var delayCts = CancellationTokenSource.CreateLinkedTokenSource(token))
                    {
                        await Task.WhenAny(waitTask, Task.Delay(_bookmarkInterval, delayCts.Token));
                        await delayCts.CancelAsync();
                    }
                    if (!waitTask.IsCompleted)
                    {
                        if (token.IsCancellationRequested) break;
                        // Every event up to the current resourceVersion was offered before we read it, so once the
                        // queue is drained a bookmark at that version is truthful.
                        var rv = _registry.Store.CurrentResourceVersion;
                        if (reader.Count == 0 && initialEndSent)
                        {
                            WriteBookmark(buffer, type, Math.Max(rv, lastRv), initialEnd: false);
                            await FlushAsync(ctx, buffer, token);
                        }
                        continue;
                    }
                }
                bool more;
                try
                {
                    more = await waitTask;
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                waitTask = null;
                if (!more) break;
                while (reader.TryRead(out var e))
                {
                    lastRv = Math.Max(lastRv, e.ResourceVersion);
                    WriteEvent(buffer, type, e, labels, fields, table);
                    if (initialPending > 0 && --initialPending == 0 && !initialEndSent)
                    {
                        WriteBookmark(buffer, type, sub.StartResourceVersion, initialEnd: true);
                        initialEndSent = true;
                    }
                    if (buffer.WrittenCount > 64 * 1024) await FlushAsync(ctx, buffer, token);
                }
                if (!initialEndSent && initialPending == 0)
                {
                    WriteBookmark(buffer, type, sub.StartResourceVersion, initialEnd: true);
                    initialEndSent = true;
                }
                await FlushAsync(ctx, buffer, token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Timeout or client gone: ending the response is the protocol's way of saying "watch again".
        }
    }

    private static int CountInitial(WatchSubscription sub) => sub.Events.Count;

    private static async Task FlushAsync(HttpContext ctx, ArrayBufferWriter<byte> buffer, CancellationToken ct)
    {
        if (buffer.WrittenCount == 0) return;
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
        await ctx.Response.Body.FlushAsync(ct);
        buffer.ResetWrittenCount();
    }

    private void WriteEvent(ArrayBufferWriter<byte> buffer, ResourceType type, WatchEvent e, LabelSelector labels, FieldSelector fields, bool table)
    {
        var filtered = !labels.IsEmpty || !fields.IsEmpty;
        string? kind;
        if (!filtered)
        {
            kind = e.Type switch { WatchEventType.Added => "ADDED", WatchEventType.Modified => "MODIFIED", _ => "DELETED" };
        }
        else
        {
            var now = Matches(e.Object, labels, fields);
            var before = e.Previous is not null && Matches(e.Previous, labels, fields);
            kind = e.Type switch
            {
                WatchEventType.Added => now ? "ADDED" : null,
                WatchEventType.Modified when now && before => "MODIFIED",
                WatchEventType.Modified when now => "ADDED",
                WatchEventType.Modified when before => "DELETED",
                WatchEventType.Deleted when before || now => "DELETED",
                _ => null,
            };
        }
        if (kind is null) return;
        using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStartObject();
        writer.WriteString("type", kind);
        writer.WritePropertyName("object");
        if (table)
        {
            var t = _tables.Table(type, [ParseForType(type, e.Object)], e.ResourceVersion.ToString(CultureInfo.InvariantCulture), null, "Metadata");
            t.WriteTo(writer);
        }
        else if (NeedsConversion(type))
        {
            ParseForType(type, e.Object).WriteTo(writer);
        }
        else
        {
            writer.WriteRawValue(e.Object.Json, skipInputValidation: true);
        }
        writer.WriteEndObject();
        writer.Flush();
        buffer.Write("\n"u8);
    }

    private static bool Matches(StoredObject o, LabelSelector labels, FieldSelector fields) =>
        labels.Matches(o.Labels) && fields.Matches(o.Namespace, o.Name, o.ToJson);

    private static void WriteBookmark(ArrayBufferWriter<byte> buffer, ResourceType type, long rv, bool initialEnd)
    {
        var metadata = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) };
        if (initialEnd) metadata["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
        var bookmark = new JsonObject
        {
            ["type"] = "BOOKMARK",
            ["object"] = new JsonObject { ["kind"] = type.Kind, ["apiVersion"] = type.GroupVersion, ["metadata"] = metadata },
        };
        using var writer = new Utf8JsonWriter(buffer);
        bookmark.WriteTo(writer);
        writer.Flush();
        buffer.Write("\n"u8);
    }
}
