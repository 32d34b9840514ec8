using System.Net;
using ControllerRuntime.Leadership;
using GruOperator.Api;
using k8s;
using k8s.Autorest;
using k8s.Exceptions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GruOperator.Hosting;

/// <summary>
/// The operator process from flags to exit code. Everything a user can get wrong before the controllers start (a
/// value, the kubeconfig, an API server that does not answer) ends in one line on stderr, never a stack trace.
/// </summary>
internal static class OperatorProcess
{
    /// <summary>Exit code when the API server cannot be reached at start, or leadership was lost (the pod restarts).</summary>
    public const int Failure = 1;

    /// <summary>How long the start-up check waits for the API server's /version.</summary>
    public static readonly TimeSpan ReachabilityTimeout = TimeSpan.FromSeconds(15);

    public static async Task<int> RunAsync(IReadOnlyDictionary<string, string?> flags, TextWriter stderr, CancellationToken cancellationToken)
    {
        WebApplication app;
        IKubernetes client;
        try
        {
            app = OperatorHost.Build(flags);
        }
        catch (OperatorConfigurationException ex)
        {
            foreach (var error in ex.Errors) await stderr.WriteLineAsync($"{OperatorCommand.Name}: {error}").ConfigureAwait(false);
            return OperatorCommand.UsageError;
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                client = app.Services.GetRequiredService<IKubernetes>();
            }
            catch (Exception ex) when (ex is KubeConfigException or IOException or YamlDotNet.Core.YamlException or UriFormatException)
            {
                var path = app.Services.GetRequiredService<IOptions<OperatorOptions>>().Value.Kubeconfig;
                await stderr.WriteLineAsync(
                    $"{OperatorCommand.Name}: cannot load the kubeconfig{(string.IsNullOrEmpty(path) ? "" : " " + path)}: {OneLine(ex)} Pass --kubeconfig PATH (and --context NAME), set KUBECONFIG, or run in a pod.").ConfigureAwait(false);
                return OperatorCommand.UsageError;
            }

            var options = app.Services.GetRequiredService<IOptions<OperatorOptions>>().Value;
            var problem = await UnreachableAsync(client, cancellationToken).ConfigureAwait(false)
                ?? await NotServedAsync(client, options, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                await stderr.WriteLineAsync($"{OperatorCommand.Name}: {problem}").ConfigureAwait(false);
                return Failure;
            }

            var leadership = app.Services.GetRequiredService<LeadershipState>();
            try
            {
                await app.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OptionsValidationException ex)
            {
                await stderr.WriteLineAsync($"{OperatorCommand.Name}: invalid configuration: {string.Join("; ", ex.Failures)}").ConfigureAwait(false);
                return OperatorCommand.UsageError;
            }
            // Leadership lost: exit non-zero so the pod restarts as a fresh candidate (controller-runtime does the same).
            return leadership.Lost ? Failure : 0;
        }
    }

    /// <summary>Asks the API server for /version; returns why that failed, or null when it answered.</summary>
    public static async Task<string?> UnreachableAsync(IKubernetes client, CancellationToken cancellationToken)
    {
        var server = client.BaseUri?.ToString().TrimEnd('/') ?? "(no server)";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReachabilityTimeout);
        try
        {
            await client.Version.GetCodeAsync(timeout.Token).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"the Kubernetes API server at {server} did not answer within {ReachabilityTimeout.TotalSeconds:0}s. Check --kubeconfig and --context, or the network to the cluster.";
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            return $"the Kubernetes API server at {server} refused the credentials ({(int)ex.Response.StatusCode} {ex.Response.StatusCode}). Check the kubeconfig's user or the pod's ServiceAccount token.";
        }
        catch (Exception ex) when (ex is HttpRequestException or HttpOperationException or IOException or System.Security.Authentication.AuthenticationException)
        {
            return $"cannot reach the Kubernetes API server at {server}: {OneLine(ex)} Check --kubeconfig and --context, or that the cluster is running.";
        }
    }

    /// <summary>
    /// Lists GruModels once (limit 1) where the operator will watch; returns why that failed (CRD not installed,
    /// RBAC refusing the list), or null. controller-runtime fails its start the same way when a kind is not served.
    /// </summary>
    public static async Task<string?> NotServedAsync(IKubernetes client, OperatorOptions options, CancellationToken cancellationToken)
    {
        var ns = options.WatchedNamespaces()[0];
        var where = ns is null ? "in all namespaces" : $"in namespace {ns}";
        try
        {
            _ = ns is null
                ? await client.CustomObjects.ListClusterCustomObjectAsync<GruModelList>(GruModel.Group, GruModel.Version, GruModel.Plural, limit: 1, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await client.CustomObjects.ListNamespacedCustomObjectAsync<GruModelList>(GruModel.Group, GruModel.Version, ns, GruModel.Plural, limit: 1, cancellationToken: cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return $"the API server at {client.BaseUri} does not serve {GruModel.Plural}.{GruModel.Group}/{GruModel.Version}: install the CRD with kubectl apply -f config/crds (or kubectl apply -k config/default).";
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            return $"the API server refused to list {GruModel.Plural}.{GruModel.Group} {where} ({(int)ex.Response.StatusCode} {ex.Response.StatusCode}): grant the operator's ServiceAccount the role in config/rbac, or pick namespaces it may watch with --namespaces.";
        }
    }

    // The innermost message is the one that says what happened (connection refused, file not found).
    private static string OneLine(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null) inner = inner.InnerException;
        var text = inner == ex || ex.Message.Contains(inner.Message, StringComparison.Ordinal) ? ex.Message : $"{ex.Message.TrimEnd('.')}: {inner.Message}";
        text = text.ReplaceLineEndings(" ").Trim();
        return text.EndsWith('.') ? text : text + ".";
    }
}
