using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kube.Local.Storage;
using Microsoft.AspNetCore.Http;

namespace Kube.Local.Api;

/// <summary>Writes JSON answers, and every failure as a metav1.Status with its code (and Retry-After when it has one).</summary>
internal static class ApiResponseWriter
{
    public static async Task WriteJsonAsync(HttpContext ctx, int code, JsonNode node, CancellationToken ct)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(node, JsonOptions.Compact), ct);
    }

    public static async Task WriteStatusAsync(HttpContext ctx, ApiError e, CancellationToken ct)
    {
        if (ctx.Response.HasStarted) return;
        if (e.RetryAfterSeconds is { } retry) ctx.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        await WriteJsonAsync(ctx, e.Code, e.ToStatus(), ct);
    }
}
