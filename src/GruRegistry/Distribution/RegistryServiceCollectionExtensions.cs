using GruRegistry.Tls;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace GruRegistry.Distribution;

/// <summary>Creates <see cref="DistributionClient"/>s with the given credentials over the shared resilient HTTP client.</summary>
public sealed class DistributionClientFactory
{
    private readonly IHttpClientFactory _httpClients;
    private readonly IOptions<RegistryOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;

    internal DistributionClientFactory(IHttpClientFactory httpClients, IOptions<RegistryOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        _httpClients = httpClients;
        _options = options;
        _time = time;
        _loggers = loggers;
    }

    /// <summary>A client using <paramref name="credentials"/> (per model, e.g. from its registry Secret); tokens are cached per client.</summary>
    public DistributionClient Create(RegistryCredentials credentials) =>
        new(_httpClients.CreateClient(RegistryServiceCollectionExtensions.HttpClientName), _options.Value, credentials, _time,
            _loggers.CreateLogger<DistributionClient>());
}

/// <summary>Registers the registry client: options, the resilient HTTP client and <see cref="DistributionClientFactory"/>.</summary>
public static class RegistryServiceCollectionExtensions
{
    internal const string HttpClientName = "GruRegistry.Distribution";

    /// <summary>Adds the client with options bound from <paramref name="section"/> (usually <c>Registry</c>).</summary>
    public static IServiceCollection AddRegistryClient(this IServiceCollection services, IConfiguration section)
    {
        services.AddOptions<RegistryOptions>().Bind(section).ValidateOnStart();
        return services.AddRegistryClientCore();
    }

    /// <summary>Adds the client with options set in code (the gru-model command).</summary>
    public static IServiceCollection AddRegistryClient(this IServiceCollection services, Action<RegistryOptions> configure)
    {
        services.AddOptions<RegistryOptions>().Configure(configure).ValidateOnStart();
        return services.AddRegistryClientCore();
    }

    private static IServiceCollection AddRegistryClientCore(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<RegistryOptions>, RegistryOptionsValidation>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new DistributionClientFactory(
            sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<IOptions<RegistryOptions>>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>()));

        services.AddHttpClient(HttpClientName, client =>
            {
                client.Timeout = Timeout.InfiniteTimeSpan; // the pipeline owns timeouts
                client.DefaultRequestHeaders.UserAgent.ParseAdd("gru-registry/1"); // so registry logs say who pulled
            })
            .ConfigurePrimaryHttpMessageHandler(sp => CustomCertificateAuthority.Handler(sp.GetRequiredService<IOptions<RegistryOptions>>().Value.CaCertificateFile))
            .AddResilienceHandler("registry", (pipeline, context) =>
            {
                var o = context.ServiceProvider.GetRequiredService<IOptions<RegistryOptions>>().Value;
                pipeline.AddTimeout(new HttpTimeoutStrategyOptions
                {
                    TimeoutGenerator = args => ValueTask.FromResult(IsUpload(args.Context) ? o.UploadTimeout : o.TotalTimeout),
                });
                if (o.MaxRetries > 0)
                {
                    // The default predicate covers 5xx, 408, 429, HttpRequestException and attempt timeouts. Unsafe methods
                    // (POST/PATCH/PUT) are not retried: a blob upload session would no longer match what was sent.
                    var retry = new HttpRetryStrategyOptions
                    {
                        MaxRetryAttempts = o.MaxRetries,
                        BackoffType = DelayBackoffType.Exponential,
                        UseJitter = true,
                        Delay = o.RetryBaseDelay,
                        ShouldRetryAfterHeader = true,
                        MaxDelay = o.TotalTimeout,
                    };
                    retry.DisableForUnsafeHttpMethods();
                    pipeline.AddRetry(retry);
                }

                pipeline.AddTimeout(new HttpTimeoutStrategyOptions
                {
                    TimeoutGenerator = args => ValueTask.FromResult(IsUpload(args.Context) ? o.UploadTimeout : o.AttemptTimeout),
                });
            });
        return services;
    }

    private static bool IsUpload(ResilienceContext context) =>
        context.GetRequestMessage() is { } request && request.Options.TryGetValue(DistributionClient.UploadRequest, out var upload) && upload;
}
