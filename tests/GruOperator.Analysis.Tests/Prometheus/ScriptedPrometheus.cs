using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using GruOperator.Providers.Prometheus;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GruOperator.Analysis.Tests.Prometheus;

/// <summary>What the fake server saw of one request.</summary>
internal sealed record RecordedRequest(string Method, string Path, string? Authorization, IReadOnlyDictionary<string, string> Form);

/// <summary>
/// A fake Prometheus on 127.0.0.1 (Kestrel) that answers each request with a scripted response, so the client's
/// retries, timeouts and error handling can be driven exactly: 5xx, 429, slow answers, malformed bodies, TLS.
/// </summary>
internal sealed class ScriptedPrometheus : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _attempts;

    private ScriptedPrometheus(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Answers: <c>respond(context, attempt)</c> where attempt counts from 1.</summary>
    public static async Task<ScriptedPrometheus> StartAsync(Func<HttpContext, int, Task> respond, X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        var scripted = new ScriptedPrometheus(app);
        app.Run(async context =>
        {
            var form = context.Request.HasFormContentType
                ? (await context.Request.ReadFormAsync(context.RequestAborted)).ToDictionary(f => f.Key, f => f.Value.ToString())
                : new Dictionary<string, string>();
            scripted.Requests.Enqueue(new RecordedRequest(
                context.Request.Method, context.Request.Path, context.Request.Headers.Authorization.FirstOrDefault(), form));
            await respond(context, Interlocked.Increment(ref scripted._attempts));
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        scripted.Address = new Uri(address.Replace("[::1]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return scripted;
    }

    public static Task Json(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body);
    }

    public const string OneSample = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000000,\"0.5\"]}]}}";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>The provider wired exactly as the operator wires it, with test-sized timeouts and delays.</summary>
internal static class PrometheusServices
{
    public static ServiceProvider Build(Uri? address, IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Prometheus:Address"] = address?.ToString(),
            ["Prometheus:AttemptTimeout"] = "00:00:05",
            ["Prometheus:TotalTimeout"] = "00:00:20",
            ["Prometheus:MaxRetries"] = "3",
            ["Prometheus:RetryBaseDelay"] = "00:00:00.010",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPrometheusMetricProvider(configuration.GetSection(PrometheusOptions.Section));
        return services.BuildServiceProvider(validateScopes: true);
    }

    public static PrometheusClient Client(IServiceProvider services) => new(
        services.GetRequiredService<IHttpClientFactory>().CreateClient(PrometheusServiceCollectionExtensions.HttpClientName),
        services.GetRequiredService<IOptionsMonitor<PrometheusOptions>>(),
        NullLogger<PrometheusClient>.Instance);
}
