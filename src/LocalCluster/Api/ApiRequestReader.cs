using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Kube.Local.Protobuf;
using Kube.Local.Storage;
using Microsoft.AspNetCore.Http;

namespace Kube.Local.Api;

/// <summary>What a request asks for beyond its path: query options (dry run, field manager and validation, delete
/// options, Table output) and its body in JSON, YAML or the protobuf envelope.</summary>
internal static class ApiRequestReader
{
    public static bool WantsTable(HttpContext ctx) =>
        ctx.Request.Headers.Accept.Any(a => a is not null && a.Contains("as=Table", StringComparison.Ordinal));

    public static string IncludeObject(HttpContext ctx) =>
        ctx.Request.Query["includeObject"].ToString() is { Length: > 0 } v ? v : "Metadata";

    public static bool IsTrue(Microsoft.Extensions.Primitives.StringValues v) => v.ToString() is "true" or "1" or "True";

    public static WriteOptions WriteOptionsFrom(HttpContext ctx)
    {
        var q = ctx.Request.Query;
        var dryRun = q["dryRun"].ToString();
        if (dryRun.Length > 0 && dryRun != "All")
        {
            throw ApiError.Invalid("", "CreateOptions", "", [new StatusCause("FieldValueNotSupported", $"Unsupported value: \"{dryRun}\": supported values: \"All\"", "dryRun")]);
        }
        var fieldValidation = q["fieldValidation"].ToString() switch
        {
            "" or "Warn" => FieldValidation.Warn,
            "Strict" => FieldValidation.Strict,
            "Ignore" => FieldValidation.Ignore,
            var other => throw ApiError.BadRequest($"fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""),
        };
        var manager = q["fieldManager"].ToString();
        if (manager.Length == 0)
        {
            // As the real server: the user agent's program name is the default manager of updates.
            var agent = ctx.Request.Headers.UserAgent.ToString();
            manager = agent.Length == 0 ? "unknown" : agent.Split('/')[0];
        }
        return new WriteOptions(dryRun == "All", manager, fieldValidation);
    }

    public static async Task<DeleteOptions> DeleteOptionsFromAsync(HttpContext ctx, CancellationToken ct)
    {
        var q = ctx.Request.Query;
        string? policy = q["propagationPolicy"].ToString() is { Length: > 0 } p ? p : null;
        if (q["orphanDependents"].ToString() is "true") policy ??= "Orphan";
        string? uid = null, rv = null;
        long? grace = null;
        if (q["gracePeriodSeconds"].ToString() is { Length: > 0 } g)
        {
            grace = long.TryParse(g, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed)
                ? parsed
                : throw ApiError.BadRequest($"gracePeriodSeconds: invalid value \"{g}\": must be an integer");
        }
        var dryRun = q["dryRun"].ToString() == "All";
        var bytes = await ReadBodyAsync(ctx, ct);
        if (bytes.Length > 0)
        {
            var body = JsonNode.Parse(bytes) as JsonObject;
            policy = body?["propagationPolicy"]?.GetValue<string>() ?? policy;
            if (body?["orphanDependents"]?.GetValue<bool>() == true) policy ??= "Orphan";
            uid = body?["preconditions"]?["uid"]?.GetValue<string>();
            rv = body?["preconditions"]?["resourceVersion"]?.GetValue<string>();
            if (body?["dryRun"] is JsonArray dr && dr.Any(x => x?.GetValue<string>() == "All")) dryRun = true;
            if (body?["gracePeriodSeconds"] is JsonValue gv) grace = gv.GetValue<long>();
        }
        if (grace < 0) grace = 1; // as the real server: a negative grace period means "as soon as possible", i.e. 1s
        return new DeleteOptions(policy, uid, rv, dryRun, grace);
    }

    public static async Task<byte[]> ReadBodyAsync(HttpContext ctx, CancellationToken ct)
    {
        using var ms = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(ms, ct);
        return ms.ToArray();
    }

    public static async Task<JsonObject> ReadObjectAsync(HttpContext ctx, CancellationToken ct)
    {
        var contentType = (ctx.Request.ContentType ?? "application/json").Split(';')[0].Trim();
        var bytes = await ReadBodyAsync(ctx, ct);
        JsonNode? node = contentType switch
        {
            "application/json" or "" => bytes.Length == 0 ? null : JsonNode.Parse(bytes),
            "application/yaml" or "application/x-yaml" or "text/yaml" => YamlJson.Parse(Encoding.UTF8.GetString(bytes)),
            "application/vnd.kubernetes.protobuf" => ProtobufBody.Decode(bytes),
            _ => throw ApiError.UnsupportedMediaType(contentType),
        };
        return node as JsonObject ?? throw ApiError.BadRequest("the body of the request must be a JSON object");
    }
}
