using ControllerRuntime.Controllers;
using ControllerRuntime.Informers;
using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ControllerRuntime.Leadership;

/// <summary>
/// Runs the informers and controllers, but only while this replica leads. When leadership is lost it stops the
/// whole process (controller-runtime's choice): restarting cleanly beats reasoning about half-stopped components.
/// </summary>
public sealed partial class ControllerHost : BackgroundService
{
    private readonly IKubernetes _client;
    private readonly IEnumerable<IInformer> _informers;
    private readonly IEnumerable<Controller> _controllers;
    private readonly LeaderElectionOptions _options;
    private readonly LeadershipState _state;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly TimeProvider _time;
    private readonly ILogger<ControllerHost> _logger;

    /// <summary>Creates the host service.</summary>
    public ControllerHost(
        IKubernetes client,
        IEnumerable<IInformer> informers,
        IEnumerable<Controller> controllers,
        IOptions<LeaderElectionOptions> options,
        LeadershipState state,
        IHostApplicationLifetime lifetime,
        TimeProvider time,
        ILogger<ControllerHost> logger)
    {
        _client = client;
        _informers = informers;
        _controllers = controllers;
        _options = options.Value;
        _state = state;
        _lifetime = lifetime;
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            _state.Started();
            await RunComponentsAsync(stoppingToken).ConfigureAwait(false);
            return;
        }

        var identity = string.IsNullOrEmpty(_options.Identity)
            ? $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}"
            : _options.Identity;
        var leaseLock = new LeaseLock(_client, _options.LeaseNamespace, _options.LeaseName, identity);
        using var elector = new LeaderElector(new LeaderElectionConfig(leaseLock)
        {
            LeaseDuration = _options.LeaseDuration,
            RenewDeadline = _options.RenewDeadline,
            RetryPeriod = _options.RetryPeriod,
        });
        var leading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        elector.OnStartedLeading += () => leading.TrySetResult();
        elector.OnNewLeader += leader => Log.NewLeader(_logger, leader, identity);
        elector.OnError += ex => Log.ElectionError(_logger, ex);

        Log.Campaigning(_logger, identity, _options.LeaseNamespace, _options.LeaseName);
        var election = elector.RunUntilLeadershipLostAsync(stoppingToken);
        await Task.WhenAny(leading.Task, election).ConfigureAwait(false);
        if (!leading.Task.IsCompleted)
        {
            await ObserveAsync(election).ConfigureAwait(false);
            return;
        }

        _state.Started();
        Log.Leading(_logger, identity);
        using var componentsCts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var components = RunComponentsAsync(componentsCts.Token);
        await Task.WhenAny(election, components).ConfigureAwait(false);
        componentsCts.Cancel();
        await ObserveAsync(components).ConfigureAwait(false);

        if (stoppingToken.IsCancellationRequested)
        {
            _state.Stopped(lost: false);
            await ObserveAsync(election).ConfigureAwait(false);
            await ReleaseAsync(leaseLock, identity).ConfigureAwait(false);
            return;
        }

        _state.Stopped(lost: true);
        Log.LeadershipLost(_logger, identity);
        _lifetime.StopApplication();
    }

    private async Task RunComponentsAsync(CancellationToken cancellationToken)
    {
        var informerTasks = _informers.Select(i => i.RunAsync(cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(_informers.Select(i => i.WaitForSyncAsync(cancellationToken))).ConfigureAwait(false);
            Log.CachesSynced(_logger);
            await Task.WhenAll(_controllers.Select(c => c.RunAsync(cancellationToken))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        await Task.WhenAll(informerTasks).ConfigureAwait(false);
    }

    /// <summary>Hands the lease back on a clean stop so the next replica takes over at once, not after LeaseDuration.</summary>
    private async Task ReleaseAsync(LeaseLock leaseLock, string identity)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var record = await leaseLock.GetAsync(cts.Token).ConfigureAwait(false);
            if (record.HolderIdentity != identity) return;
            var now = _time.GetUtcNow().UtcDateTime;
            await leaseLock.UpdateAsync(new LeaderElectionRecord
            {
                HolderIdentity = "",
                LeaseDurationSeconds = 1,
                AcquireTime = now,
                RenewTime = now,
                LeaderTransitions = record.LeaderTransitions,
            }, cts.Token).ConfigureAwait(false);
            Log.Released(_logger, identity);
        }
        catch (Exception ex)
        {
            // Not fatal: the lease simply expires after LeaseDuration.
            Log.ReleaseFailed(_logger, ex);
        }
    }

    private static async Task ObserveAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Candidate {Identity} campaigning for lease {Namespace}/{Lease}")]
        public static partial void Campaigning(ILogger logger, string identity, string @namespace, string lease);

        [LoggerMessage(2, LogLevel.Information, "{Identity} is now the leader")]
        public static partial void Leading(ILogger logger, string identity);

        [LoggerMessage(3, LogLevel.Information, "Leader is {Leader} (this replica: {Identity})")]
        public static partial void NewLeader(ILogger logger, string leader, string identity);

        [LoggerMessage(4, LogLevel.Warning, "Leader election error")]
        public static partial void ElectionError(ILogger logger, Exception exception);

        [LoggerMessage(5, LogLevel.Error, "{Identity} lost leadership; stopping the process so it restarts as a candidate")]
        public static partial void LeadershipLost(ILogger logger, string identity);

        [LoggerMessage(6, LogLevel.Information, "Informer caches synced; starting controllers")]
        public static partial void CachesSynced(ILogger logger);

        [LoggerMessage(7, LogLevel.Information, "{Identity} released the lease")]
        public static partial void Released(ILogger logger, string identity);

        [LoggerMessage(8, LogLevel.Warning, "Could not release the lease")]
        public static partial void ReleaseFailed(ILogger logger, Exception exception);
    }
}
