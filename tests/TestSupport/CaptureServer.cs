using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace TestSupport;

/// <summary>One request a <see cref="CaptureServer"/> received: what a hostile endpoint would learn.</summary>
public sealed record CapturedRequest(string Method, string PathAndQuery, string? Authorization);

/// <summary>
/// A hostile endpoint on 127.0.0.1, as a GruModel author would point the operator or GruServer at: it records every
/// request (with its Authorization header, the credential it would steal) and answers as the test scripts it, e.g. a
/// registry's 401 challenge or a body of hundreds of MiB.
/// </summary>
public sealed class CaptureServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<CapturedRequest> _requests = new();

    private CaptureServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    /// <summary>host:port, as a registry is named in an oci:// reference.</summary>
    public string Host => $"127.0.0.1:{Port}";

    public Uri Address => new($"http://127.0.0.1:{Port}/");

    /// <summary>Every request received so far, in order.</summary>
    public IReadOnlyList<CapturedRequest> Requests => _requests.ToArray();

    /// <summary>The Authorization headers received: a credential here is a credential stolen.</summary>
    public IReadOnlyList<string> Credentials => _requests.Select(r => r.Authorization).OfType<string>().ToArray();

    /// <summary>Starts on a free port; <paramref name="answer"/> writes each response.</summary>
    public static async Task<CaptureServer> StartAsync(Func<HttpContext, Task> answer)
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        var server = new CaptureServer(app, port);
        app.Run(context =>
        {
            var authorization = context.Request.Headers.Authorization.ToString();
            server._requests.Enqueue(new CapturedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString,
                authorization.Length == 0 ? null : authorization));
            return answer(context);
        });
        await app.StartAsync();
        return server;
    }

    /// <summary>Writes <paramref name="bytes"/> of filler (chunked, no Content-Length), as a hostile server's endless answer.</summary>
    public static async Task WriteHugeBodyAsync(HttpContext context, long bytes, string contentType = "application/json")
    {
        context.Response.ContentType = contentType;
        var chunk = new byte[1 << 20];
        Array.Fill(chunk, (byte)' ');
        chunk[0] = (byte)'[';
        for (long sent = 0; sent < bytes && !context.RequestAborted.IsCancellationRequested; sent += chunk.Length)
        {
            try
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                chunk[0] = (byte)' ';
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                return; // the reader gave up: what a bounded reader should do
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Peak resident memory of a process, as the kernel counts it (VmHWM): what an out-of-memory kill would see.</summary>
public static class PeakMemory
{
    /// <summary>The peak RSS of process <paramref name="pid"/> in MiB.</summary>
    public static double MiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no VmHWM line");
    }
}
