using System.Net;
using System.Text.Json.Nodes;
using ControllerRuntime.Informers;
using ControllerRuntime.Resources;
using GruOperator.Api;
using GruOperator.Hosting;
using GruOperator.Serving;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GruOperator.Traffic;

/// <summary>
/// <c>trafficRouting.gatewayAPI</c>: keeps the per-track Services and writes exact weights into the named HTTPRoute's
/// backendRefs for them, by server-side apply under the operator's field manager.
/// </summary>
/// <remarks>
/// HTTPRoute's <c>spec.rules</c> (and each rule's backendRefs) is an atomic list in the Gateway API CRD, so field
/// ownership cannot be narrower than the whole list. The router therefore applies only <c>spec.rules</c>, copied from the
/// live route with nothing but its own two weights changed, with the resourceVersion it read as a precondition (a rule
/// added meanwhile is never dropped: the apply gets 409 and is redone from a fresh read). Every other field (parentRefs,
/// hostnames, labels, annotations) stays with whoever applied it, and when the weights already hold nothing is written,
/// so a route at rest keeps the values Git gave it. While a canary runs the weights differ from Git's: GitOps tools
/// should ignore <c>.spec.rules[].backendRefs[].weight</c> (docs/operations.md: "With Argo CD").
/// </remarks>
internal sealed partial class GatewayApiTrafficRouter : ITrafficRouter
{
    public const string Group = "gateway.networking.k8s.io";
    public const string Version = "v1";
    public const string Plural = "httproutes";
    private const int MaxAttempts = 3;

    private readonly IKubernetes _client;
    private readonly ServerSideApply _apply;
    private readonly ResourceCache<V1Service> _services;
    private readonly ServingDefaults _defaults;
    private readonly string _fieldManager;
    private readonly ILogger<GatewayApiTrafficRouter> _logger;

    public GatewayApiTrafficRouter(
        IKubernetes client, ServerSideApply apply, ResourceCache<V1Service> services, ServingDefaults defaults, IOptions<OperatorOptions> options,
        ILogger<GatewayApiTrafficRouter> logger)
    {
        _client = client;
        _apply = apply;
        _services = services;
        _defaults = defaults;
        _fieldManager = options.Value.FieldManager;
        _logger = logger;
    }

    public async Task SetWeightsAsync(GruModel model, int stable, int canary, CancellationToken cancellationToken)
    {
        var routeName = model.Spec.Rollout?.Canary?.TrafficRouting?.GatewayApi?.HttpRoute
            ?? throw new InvalidOperationException($"GruModel {model.Metadata.NamespaceProperty}/{model.Metadata.Name} has no spec.rollout.canary.trafficRouting.gatewayAPI");
        if (stable < 0 || canary < 0 || stable + canary == 0 || stable + canary > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(canary), $"weights {stable}/{canary} must be non-negative percentages adding up to 1..100");
        }

        // The backends first: a route must never point at a Service that does not exist (the gateway answers 500 for it).
        foreach (var service in TrackServices.Build(model, _defaults))
        {
            await _apply.ApplyAsync(service, _services.Get(service.Metadata.NamespaceProperty, service.Metadata.Name), cancellationToken).ConfigureAwait(false);
        }

        var ns = model.Metadata.NamespaceProperty;
        var stableService = TrackServices.Name(model.Metadata.Name, GruServing.Contract.Serving.Tracks.StableLabel);
        var canaryService = TrackServices.Name(model.Metadata.Name, GruServing.Contract.Serving.Tracks.CanaryLabel);
        for (var attempt = 1; ; attempt++)
        {
            var route = await ReadRouteAsync(ns, routeName, cancellationToken).ConfigureAwait(false);
            var plan = HttpRouteWeights.Plan(route, stableService, canaryService, stable, canary);
            if (plan.Problem is { } problem) throw new TrafficRoutingException(TrafficRoutingException.BackendsMissing, problem);
            if (!plan.Changed) return;
            try
            {
                await ApplyRulesAsync(ns, routeName, route["metadata"]?["resourceVersion"]?.GetValue<string>(), plan.Rules!, cancellationToken).ConfigureAwait(false);
                Log.WeightsWritten(_logger, ns, routeName, stable, canary);
                return;
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxAttempts)
            {
                // The route changed between the read and the apply: plan again from what it is now.
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Forbidden)
            {
                throw Forbidden(ns, routeName, "patch");
            }
        }
    }

    private async Task<JsonObject> ReadRouteAsync(string ns, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.CustomObjects.GetNamespacedCustomObjectAsync<JsonObject>(Group, Version, ns, Plural, name, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // A missing object's 404 names it in details; a resource type the server does not serve has empty details.
            var details = StatusDetails(ex.Response.Content);
            if (details?["name"]?.GetValue<string>() == name)
            {
                throw new TrafficRoutingException(TrafficRoutingException.RouteNotFound,
                    $"HTTPRoute {ns}/{name} (spec.rollout.canary.trafficRouting.gatewayAPI.httpRoute) does not exist; create it with " +
                    $"backendRefs to the Services the operator keeps for the model's tracks, or name an existing route");
            }
            throw new TrafficRoutingException(TrafficRoutingException.GatewayApiMissing,
                $"the Gateway API HTTPRoute CRD ({Plural}.{Group}, version {Version}) is not installed in the cluster, so " +
                "trafficRouting.gatewayAPI cannot route; install Gateway API (standard channel) or use trafficRouting.replicas");
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Forbidden)
        {
            throw Forbidden(ns, name, "get");
        }
    }

    private Task ApplyRulesAsync(string ns, string name, string? resourceVersion, JsonArray rules, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["apiVersion"] = Group + "/" + Version,
            ["kind"] = "HTTPRoute",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["resourceVersion"] = resourceVersion },
            ["spec"] = new JsonObject { ["rules"] = rules },
        };
        // Force: spec.rules is one atomic field, so applying it takes it over from Git's manager; the precondition above
        // makes sure what is taken over is exactly what Git wrote plus the new weights.
        return _client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch(body.ToJsonString(), V1Patch.PatchType.ApplyPatch), Group, Version, ns, Plural, name,
            fieldManager: _fieldManager, force: true, cancellationToken: cancellationToken);
    }

    private static TrafficRoutingException Forbidden(string ns, string name, string verb) =>
        new(TrafficRoutingException.Forbidden,
            $"the operator may not {verb} HTTPRoute {ns}/{name}; grant get and patch on {Plural}.{Group} (config/rbac/role.yaml has the rule)");

    private static JsonNode? StatusDetails(string? content)
    {
        try
        {
            return string.IsNullOrEmpty(content) ? null : JsonNode.Parse(content)?["details"];
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "HTTPRoute {Namespace}/{Route}: weights stable {Stable}, canary {Canary}")]
        public static partial void WeightsWritten(ILogger logger, string @namespace, string route, int stable, int canary);
    }
}
