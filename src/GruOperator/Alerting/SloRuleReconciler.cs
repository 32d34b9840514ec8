using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ControllerRuntime.Controllers;
using ControllerRuntime.Informers;
using GruOperator.Api;
using GruOperator.Hosting;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GruOperator.Alerting;

/// <summary>
/// Keeps one PrometheusRule per GruModel (<see cref="SloAlertRules"/>) by server-side apply, owned by the model so it goes
/// with it. Its own controller beside the GruModel one: a cluster without the Prometheus Operator's PrometheusRule CRD
/// gets nothing from it but one log line, and serving never waits on it.
/// </summary>
internal sealed partial class SloRuleReconciler : IReconciler
{
    public const string ControllerName = "grumodel-slo-rules";
    public const string Group = "monitoring.coreos.com";
    public const string Version = "v1";
    public const string Plural = "prometheusrules";

    /// <summary>How long a missing CRD is believed before asking again (installing it later then needs no restart).</summary>
    public static readonly TimeSpan MissingCrdRecheck = TimeSpan.FromMinutes(5);

    private readonly ResourceCache<GruModel> _models;
    private readonly IKubernetes _client;
    private readonly TimeProvider _time;
    private readonly ILogger<SloRuleReconciler> _logger;
    private readonly string _fieldManager;
    private readonly TimeSpan _refresh;
    // What was last applied per model and when: a reconcile whose rule is unchanged sends nothing, except once per resync
    // period, which puts back a rule deleted by hand (the operator does not watch PrometheusRules).
    private readonly ConcurrentDictionary<string, (string Hash, DateTimeOffset At)> _applied = new();
    private readonly Lock _crdLock = new();
    private DateTimeOffset? _crdMissingUntil;
    private bool _crdMissingSaid;

    public SloRuleReconciler(ResourceCache<GruModel> models, IKubernetes client, IOptions<OperatorOptions> options, TimeProvider time, ILogger<SloRuleReconciler> logger)
    {
        _models = models;
        _client = client;
        _time = time;
        _logger = logger;
        _fieldManager = options.Value.FieldManager;
        _refresh = options.Value.ResyncPeriod;
    }

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        var key = request.ToString();
        var model = _models.Get(request.Namespace, request.Name);
        if (model is null || model.Metadata.DeletionTimestamp is not null)
        {
            // ownerReferences take the rule away with the model.
            _applied.TryRemove(key, out _);
            return ReconcileResult.Done;
        }

        var now = _time.GetUtcNow();
        lock (_crdLock)
        {
            if (_crdMissingUntil is { } until && now < until) return ReconcileResult.Done;
        }

        JsonObject rule;
        try
        {
            rule = SloAlertRules.Build(model, _fieldManager);
        }
        catch (ArgumentException ex)
        {
            // An unusable slo is the GruModel controller's to report (InvalidSpec); nothing to generate from it.
            Log.InvalidSlo(_logger, key, ex.Message);
            return ReconcileResult.Done;
        }

        var body = rule.ToJsonString();
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(body)));
        if (_applied.TryGetValue(key, out var last) && last.Hash == hash && now - last.At < _refresh) return ReconcileResult.Done;

        try
        {
            await _client.CustomObjects.PatchNamespacedCustomObjectAsync(
                new V1Patch(body, V1Patch.PatchType.ApplyPatch), Group, Version, model.Metadata.NamespaceProperty, Plural,
                SloAlertRules.Name(model.Metadata.Name), fieldManager: _fieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound && !NamesAnObject(ex.Response.Content))
        {
            // The resource type is not served: no Prometheus Operator here. Say so once, not once per model.
            lock (_crdLock)
            {
                _crdMissingUntil = now + MissingCrdRecheck;
                if (!_crdMissingSaid) Log.CrdMissing(_logger, $"{Plural}.{Group}", MissingCrdRecheck.TotalMinutes);
                _crdMissingSaid = true;
            }
            return ReconcileResult.Done;
        }

        lock (_crdLock)
        {
            if (_crdMissingSaid) Log.CrdFound(_logger, $"{Plural}.{Group}");
            _crdMissingUntil = null;
            _crdMissingSaid = false;
        }
        _applied[key] = (hash, now);
        return ReconcileResult.Done;
    }

    // A 404 for a missing object names it in details; a resource type the server does not serve has empty details.
    private static bool NamesAnObject(string? content)
    {
        try
        {
            return !string.IsNullOrEmpty(content) && JsonNode.Parse(content)?["details"]?["name"] is not null;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "The PrometheusRule CRD ({Crd}) is not installed: no per-model SLO alert rules until it is (asked again every {Minutes} minutes)")]
        public static partial void CrdMissing(ILogger logger, string crd, double minutes);

        [LoggerMessage(2, LogLevel.Information, "The PrometheusRule CRD ({Crd}) is installed now: per-model SLO alert rules are kept")]
        public static partial void CrdFound(ILogger logger, string crd);

        [LoggerMessage(3, LogLevel.Warning, "GruModel {Key}: no SLO alert rules from an unusable slo: {Reason}")]
        public static partial void InvalidSlo(ILogger logger, string key, string reason);
    }
}
