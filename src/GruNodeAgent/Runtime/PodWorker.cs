using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace GruNodeAgent.Runtime;

/// <summary>
/// Runs one pod bound to this node, as the kubelet's pod worker does: sandbox (address, volumes, logs), init containers
/// one by one, then the containers under their restartPolicy with CrashLoopBackOff, probes driving readiness and
/// restarts, the pod status written through pods/status on every change, and on deletion SIGTERM, the grace period,
/// SIGKILL and the final delete.
/// </summary>
internal sealed partial class PodWorker : IAsyncDisposable
{
    /// <summary>The pod annotation naming the directory of the pod's container logs.</summary>
    public const string LogsAnnotation = "node.gru.dev/logs";

    private readonly PodRuntimeContext _context;
    private readonly Lock _lock = new();
    private readonly List<ContainerRecord> _init;
    private readonly List<ContainerRecord> _main;
    private readonly PodStatusBuilder _status;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _graceCut = new();
    private readonly CancellationTokenSource _statusStop = new();
    private readonly SemaphoreSlim _statusChanged = new(0, 1);
    private readonly TaskCompletionSource<long> _stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PodSandbox _sandbox;
    private readonly DateTime _startTime;
    private V1Pod _pod;
    private string _ip = "";
    private bool _initialized;
    private bool _finished;
    private bool _deleting;
    private string? _failedReason;
    private string? _failedMessage;
    private string? _lastWritten;
    private Task _completion = Task.CompletedTask;

    public PodWorker(V1Pod pod, PodRuntimeContext context)
    {
        _pod = pod;
        _context = context;
        _init = (pod.Spec.InitContainers ?? []).Select(c => new ContainerRecord(c, init: true)).ToList();
        _main = (pod.Spec.Containers ?? []).Select(c => new ContainerRecord(c, init: false)).ToList();
        _sandbox = new PodSandbox(context.StateDirectory, pod);
        _startTime = context.Time.GetUtcNow().UtcDateTime;
        _status = new PodStatusBuilder(pod.Status?.Conditions, _startTime);
    }

    public string Key => $"{_pod.Metadata.NamespaceProperty}/{_pod.Metadata.Name}";

    public string Uid => _pod.Metadata.Uid;

    /// <summary>Completes when the pod's processes are gone (and, after a deletion, the pod too).</summary>
    public Task Completion => _completion;

    /// <summary>The pod's address, once its sandbox exists.</summary>
    public string PodIp => _ip;

    /// <summary>Resident memory of the pod's running main processes, in bytes.</summary>
    public long ResidentBytes()
    {
        lock (_lock) return _init.Concat(_main).Where(r => r.Process is not null).Sum(r => NodeCapacity.ResidentBytes(r.Process!.Pid));
    }

    public void Start() => _completion = Task.Run(RunAsync);

    /// <summary>The latest object from the informer; a deletionTimestamp starts the graceful stop.</summary>
    public void Update(V1Pod pod)
    {
        _pod = pod;
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            var grace = pod.Metadata.DeletionGracePeriodSeconds ?? pod.Spec.TerminationGracePeriodSeconds ?? 30;
            _deleting = true;
            if (!_stopRequested.TrySetResult(grace) && grace == 0) _graceCut.Cancel();
        }
    }

    /// <summary>The pod vanished from the API (force-deleted): kill at once, delete nothing.</summary>
    public void Abandon()
    {
        _deleting = true;
        _stopRequested.TrySetResult(0);
        _graceCut.Cancel();
    }

    /// <summary>Agent shutdown: stops the processes (SIGTERM, a short grace, SIGKILL) and leaves the pod as it is.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopRequested.TrySetResult(5);
        await _completion.ConfigureAwait(false);
        _stopping.Dispose();
        _graceCut.Dispose();
        _statusStop.Dispose();
        _statusChanged.Dispose();
    }

    private async Task RunAsync()
    {
        var statusLoop = Task.Run(() => WriteStatusLoopAsync(_statusStop.Token));
        var lifecycle = Task.Run(() => LifecycleAsync(_stopping.Token));
        var grace = await _stopRequested.Task.ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await TerminateAllAsync(TimeSpan.FromSeconds(grace)).ConfigureAwait(false);
        await lifecycle.ConfigureAwait(false);
        if (_deleting && !_graceCut.IsCancellationRequested)
        {
            Signal();
            await FinishAsync().ConfigureAwait(false);
        }

        await _statusStop.CancelAsync().ConfigureAwait(false);
        await statusLoop.ConfigureAwait(false);
        _context.Addresses.Release(Uid);
        if (_deleting) _sandbox.Delete();
    }

    private async Task LifecycleAsync(CancellationToken ct)
    {
        try
        {
            _ip = _context.Addresses.Acquire(Uid, _pod.Status?.PodIP);
            Signal();
            await AnnotateLogsAsync(ct).ConfigureAwait(false);
            Log.PodStarting(_context.Logger, Key, _ip, _sandbox.LogDirectory);
            await PrepareAsync(ct).ConfigureAwait(false);
            foreach (var init in _init)
            {
                if (!await RunInitAsync(init, ct).ConfigureAwait(false))
                {
                    lock (_lock) _finished = true;
                    Signal();
                    return;
                }
            }

            lock (_lock) _initialized = true;
            Signal();
            await Task.WhenAll(_main.Select(r => SuperviseAsync(r, ct))).ConfigureAwait(false);
            lock (_lock) _finished = true;
            Signal();
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping: TerminateAllAsync owns the processes from here.
        }
        catch (Exception e) when (e is UnmappableImageException or UnsupportedPodException)
        {
            Fail(e is UnmappableImageException ? "UnmappableImage" : "UnsupportedPodSpec", e.Message);
        }
        catch (Exception e)
        {
            Log.PodFailed(_context.Logger, Key, e);
            Fail("NodeAgentError", e.Message);
        }
    }

    private void Fail(string reason, string message)
    {
        lock (_lock)
        {
            _failedReason = reason;
            _failedMessage = message;
            _finished = true;
            foreach (var r in _init.Concat(_main).Where(r => r.State.Running is null && r.State.Terminated is null))
            {
                r.State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason == "UnmappableImage" ? "ErrImagePull" : "CreateContainerError", Message = message } };
            }
        }

        Log.PodFailedWithReason(_context.Logger, Key, reason, message);
        Signal();
    }

    /// <summary>Volumes, then each container's argv and environment; a missing ConfigMap or key is retried, as the kubelet does.</summary>
    private async Task PrepareAsync(CancellationToken ct)
    {
        foreach (var r in _init.Concat(_main)) ContainerProbe.CheckSupported(r.Spec);
        while (true)
        {
            try
            {
                await _sandbox.PrepareAsync(_context.Client, _pod, ct).ConfigureAwait(false);
                foreach (var r in _init.Concat(_main))
                {
                    r.Launch = await LaunchSpecAsync(r.Spec, ct).ConfigureAwait(false);
                }

                return;
            }
            catch (ContainerConfigException e)
            {
                lock (_lock)
                {
                    foreach (var r in _init.Concat(_main))
                    {
                        r.State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CreateContainerConfigError", Message = e.Message } };
                    }
                }

                Signal();
                await Task.Delay(TimeSpan.FromSeconds(5), _context.Time, ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<LaunchSpec> LaunchSpecAsync(V1Container container, CancellationToken ct)
    {
        var mounts = _sandbox.Mounts(container);
        var env = await ContainerEnvironment.BuildAsync(_context.Client, _pod, container, _ip, ct).ConfigureAwait(false);
        foreach (var key in env.Keys.ToList()) env[key] = Localize(env[key], mounts);
        var argv = _context.Images.Argv(container.Name, container.Image, container.Command, container.Args, env, a => Localize(a, mounts)).ToList();
        var workingDirectory = _sandbox.Root;
        if (!string.IsNullOrEmpty(container.WorkingDir))
        {
            workingDirectory = PodSandbox.MapPath(container.WorkingDir, mounts);
            if (workingDirectory == container.WorkingDir && !Directory.Exists(workingDirectory))
            {
                // Not a mount and not on the host: the image's directory, created in the pod's root as a runtime would.
                workingDirectory = Path.Combine(_sandbox.Root, "rootfs", container.WorkingDir.TrimStart('/'));
            }
        }

        Directory.CreateDirectory(workingDirectory);
        return new LaunchSpec(argv, env, workingDirectory);
    }

    /// <summary>Container paths to host paths; 0.0.0.0 ("every interface of the pod") to the pod's own address.</summary>
    private string Localize(string value, IReadOnlyList<(string, string)> mounts) =>
        value == "0.0.0.0" || value == "::" ? _ip : PodSandbox.MapPath(value, mounts);

    private async Task<bool> RunInitAsync(ContainerRecord record, CancellationToken ct)
    {
        while (true)
        {
            var exit = await RunOnceAsync(record, probes: false, ct).ConfigureAwait(false);
            if (exit == 0) return true;
            if (_pod.Spec.RestartPolicy == "Never") return false;
            await BackoffAsync(record, ct).ConfigureAwait(false);
        }
    }

    private async Task SuperviseAsync(ContainerRecord record, CancellationToken ct)
    {
        while (true)
        {
            var exit = await RunOnceAsync(record, probes: true, ct).ConfigureAwait(false);
            var restart = _pod.Spec.RestartPolicy switch
            {
                "Never" => false,
                "OnFailure" => exit != 0,
                _ => true,
            };
            if (!restart) return;
            await BackoffAsync(record, ct).ConfigureAwait(false);
        }
    }

    private async Task<int> RunOnceAsync(ContainerRecord record, bool probes, CancellationToken ct)
    {
        var launch = record.Launch!;
        var now = _context.Time.GetUtcNow().UtcDateTime;
        ContainerProcess process;
        lock (_lock)
        {
            ct.ThrowIfCancellationRequested();
            if (record.State.Terminated is not null) record.LastState = record.State;
            var missing = MissingExecutable(launch);
            if (missing is not null)
            {
                record.State = Terminated(128, "StartError", missing, now, now);
                process = null!;
            }
            else
            {
                process = ContainerProcess.Start(launch, _sandbox.LogPath(record.Spec.Name, record.RestartCount));
                record.Process = process;
                record.ContainerId = $"local://{process.Pid}";
                record.State = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = now } };
                record.Ready = false;
                record.Started = record.Spec.StartupProbe is null;
            }
        }

        Signal();
        if (process is null) return 128;
        Log.ContainerStarted(_context.Logger, Key, record.Spec.Name, process.Pid, string.Join(' ', launch.Argv));
        using var probing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var probeTask = probes ? ProbeAsync(record, process, probing.Token) : Task.CompletedTask;
        // No cancellation here: while stopping, TerminateAllAsync makes the process exit, and its end is still recorded.
        var code = await process.Exited.ConfigureAwait(false);
        await probing.CancelAsync().ConfigureAwait(false);
        try
        {
            await probeTask.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        lock (_lock)
        {
            var started = record.State.Running?.StartedAt ?? now;
            var message = record.KillMessage ?? (code != 0 && record.Spec.TerminationMessagePolicy == "FallbackToLogsOnError" ? LogTail(record) : null);
            record.State = Terminated(code, code == 0 ? "Completed" : "Error", message, started, _context.Time.GetUtcNow().UtcDateTime);
            record.KillMessage = null;
            record.Process = null;
            record.Ready = false;
            if (_context.Time.GetUtcNow().UtcDateTime - started > TimeSpan.FromMinutes(10)) record.BackoffStep = 0;
            process.Dispose();
        }

        Log.ContainerExited(_context.Logger, Key, record.Spec.Name, code);
        Signal();
        ct.ThrowIfCancellationRequested();
        return code;
    }

    private async Task BackoffAsync(ContainerRecord record, CancellationToken ct)
    {
        // The kubelet restarts a crashed container at once the first time, then waits 10s, 20s, 40s... up to 5 minutes.
        var step = record.BackoffStep++;
        if (step > 0)
        {
            var delay = TimeSpan.FromTicks(Math.Min(_context.Options.MaxRestartBackoff.Ticks, _context.Options.RestartBackoff.Ticks << Math.Min(step - 1, 20)));
            lock (_lock)
            {
                record.LastState = record.State;
                record.State = new V1ContainerState
                {
                    Waiting = new V1ContainerStateWaiting
                    {
                        Reason = "CrashLoopBackOff",
                        Message = $"back-off {Go(delay)} restarting failed container={record.Spec.Name} pod={_pod.Metadata.Name}_{_pod.Metadata.NamespaceProperty}({Uid})",
                    },
                };
            }

            Signal();
            await Task.Delay(delay, _context.Time, ct).ConfigureAwait(false);
        }

        lock (_lock) record.RestartCount++;
    }

    private async Task ProbeAsync(ContainerRecord record, ContainerProcess process, CancellationToken ct)
    {
        var spec = record.Spec;
        if (spec.StartupProbe is { } startup)
        {
            var (ok, message) = await ProbeUntilAsync(startup, spec, ct).ConfigureAwait(false);
            if (!ok)
            {
                Kill(record, process, "Startup probe failed: " + message, startup);
                return;
            }

            lock (_lock) record.Started = true;
            Signal();
        }

        var readiness = spec.ReadinessProbe is { } r ? ReadinessAsync(record, r, ct) : MarkReady(record);
        var liveness = spec.LivenessProbe is { } l ? LivenessAsync(record, process, l, ct) : Task.CompletedTask;
        await Task.WhenAll(readiness, liveness).ConfigureAwait(false);
    }

    private Task MarkReady(ContainerRecord record)
    {
        lock (_lock) record.Ready = true;
        Signal();
        return Task.CompletedTask;
    }

    /// <summary>Probes until success (true) or failureThreshold consecutive failures (false), e.g. a startup probe.</summary>
    private async Task<(bool Ok, string Message)> ProbeUntilAsync(V1Probe probe, V1Container container, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromSeconds(probe.InitialDelaySeconds ?? 0), _context.Time, ct).ConfigureAwait(false);
        var failures = 0;
        while (true)
        {
            var outcome = await _context.Probe.RunAsync(probe, container, _ip, ct).ConfigureAwait(false);
            if (outcome.Success) return (true, "");
            if (++failures >= (probe.FailureThreshold ?? 3)) return (false, outcome.Message);
            await Task.Delay(Period(probe), _context.Time, ct).ConfigureAwait(false);
        }
    }

    private async Task ReadinessAsync(ContainerRecord record, V1Probe probe, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromSeconds(probe.InitialDelaySeconds ?? 0), _context.Time, ct).ConfigureAwait(false);
        int successes = 0, failures = 0;
        while (true)
        {
            var outcome = await _context.Probe.RunAsync(probe, record.Spec, _ip, ct).ConfigureAwait(false);
            if (outcome.Success) { successes++; failures = 0; }
            else { failures++; successes = 0; }
            bool? ready = successes >= (probe.SuccessThreshold ?? 1) ? true : failures >= (probe.FailureThreshold ?? 3) ? false : null;
            if (ready is { } value)
            {
                bool changed;
                lock (_lock)
                {
                    changed = record.Ready != value;
                    record.Ready = value;
                }

                if (changed)
                {
                    if (!value) Log.ProbeFailed(_context.Logger, Key, record.Spec.Name, "Readiness", outcome.Message);
                    Signal();
                }
            }

            await Task.Delay(Period(probe), _context.Time, ct).ConfigureAwait(false);
        }
    }

    private async Task LivenessAsync(ContainerRecord record, ContainerProcess process, V1Probe probe, CancellationToken ct)
    {
        var (_, message) = await ProbeFailsAsync(probe, record.Spec, ct).ConfigureAwait(false);
        Kill(record, process, "Liveness probe failed: " + message, probe);
    }

    /// <summary>Probes until failureThreshold consecutive failures, however long that takes.</summary>
    private async Task<(bool, string)> ProbeFailsAsync(V1Probe probe, V1Container container, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromSeconds(probe.InitialDelaySeconds ?? 0), _context.Time, ct).ConfigureAwait(false);
        var failures = 0;
        while (true)
        {
            var outcome = await _context.Probe.RunAsync(probe, container, _ip, ct).ConfigureAwait(false);
            failures = outcome.Success ? 0 : failures + 1;
            if (failures >= (probe.FailureThreshold ?? 3)) return (false, outcome.Message);
            await Task.Delay(Period(probe), _context.Time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>A failed startup or liveness probe: SIGTERM, then SIGKILL after the grace period; the supervisor restarts it.</summary>
    private void Kill(ContainerRecord record, ContainerProcess process, string message, V1Probe probe)
    {
        Log.ProbeFailed(_context.Logger, Key, record.Spec.Name, "Killing", message);
        lock (_lock) record.KillMessage = message;
        var grace = TimeSpan.FromSeconds(probe.TerminationGracePeriodSeconds ?? _pod.Spec.TerminationGracePeriodSeconds ?? 30);
        process.Terminate();
        _ = Task.Run(async () =>
        {
            if (await Task.WhenAny(process.Exited, Task.Delay(grace, _context.Time)).ConfigureAwait(false) != process.Exited) process.Kill();
        });
    }

    private async Task TerminateAllAsync(TimeSpan grace)
    {
        List<ContainerProcess> running;
        lock (_lock) running = _init.Concat(_main).Select(r => r.Process).OfType<ContainerProcess>().ToList();
        if (running.Count == 0) return;
        Log.Stopping(_context.Logger, Key, running.Count, grace.TotalSeconds);
        foreach (var p in running) p.Terminate();
        var all = Task.WhenAll(running.Select(p => p.Exited));
        try
        {
            await Task.WhenAny(all, Task.Delay(grace, _context.Time, _graceCut.Token)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var p in running.Where(p => !p.Exited.IsCompleted)) p.Kill();
        await all.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    /// <summary>After a graceful stop: the final status, then the delete the API server waits for (grace 0, this pod's uid only).</summary>
    private async Task FinishAsync()
    {
        try
        {
            await WriteStatusAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (HttpOperationException)
        {
            // The final status is a courtesy; the delete below is what matters.
        }

        try
        {
            await _context.Client.CoreV1.DeleteNamespacedPodAsync(_pod.Metadata.Name, _pod.Metadata.NamespaceProperty,
                new V1DeleteOptions { GracePeriodSeconds = 0, Preconditions = new V1Preconditions { Uid = Uid } }).ConfigureAwait(false);
            Log.PodDeleted(_context.Logger, Key);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // Already gone, or a new pod took the name.
        }
    }

    private async Task AnnotateLogsAsync(CancellationToken ct)
    {
        if (_pod.Metadata.Annotations?.TryGetValue(LogsAnnotation, out var existing) == true && existing == _sandbox.LogDirectory) return;
        var patch = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [LogsAnnotation] = _sandbox.LogDirectory } } };
        await _context.Client.CoreV1.PatchNamespacedPodAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch),
            _pod.Metadata.Name, _pod.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
    }

    private void Signal()
    {
        try
        {
            if (_statusChanged.CurrentCount == 0) _statusChanged.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task WriteStatusLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _statusChanged.WaitAsync(ct).ConfigureAwait(false);
                await WriteStatusAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
            {
                return;
            }
            catch (Exception e)
            {
                Log.StatusFailed(_context.Logger, Key, e);
                Signal();
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _context.Time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task WriteStatusAsync(CancellationToken ct)
    {
        var status = JsonNode.Parse(KubernetesJson.Serialize(BuildStatus()))!.AsObject();
        // Merge patch: explicit nulls clear a reason and message left from an earlier status.
        status["reason"] ??= null;
        status["message"] ??= null;
        var body = new JsonObject { ["status"] = status }.ToJsonString();
        if (body == _lastWritten) return;
        await _context.Client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(body, V1Patch.PatchType.MergePatch),
            _pod.Metadata.Name, _pod.Metadata.NamespaceProperty, cancellationToken: ct).ConfigureAwait(false);
        _lastWritten = body;
    }

    /// <summary>The pod status the kubelet would report for the current state.</summary>
    private V1PodStatus BuildStatus()
    {
        lock (_lock)
        {
            return _status.Build(new PodState(_init, _main, _failedReason, _failedMessage, _finished, _initialized, _ip, _startTime, _pod.Status?.QosClass),
                _context.Time.GetUtcNow().UtcDateTime);
        }
    }

    private static V1ContainerState Terminated(int code, string reason, string? message, DateTime started, DateTime finished) => new()
    {
        Terminated = new V1ContainerStateTerminated { ExitCode = code, Reason = reason, Message = message, StartedAt = started, FinishedAt = finished },
    };

    /// <summary>argv[0] resolved on the container's PATH, as the runtime's exec would; the kubelet's StartError message when absent.</summary>
    private static string? MissingExecutable(LaunchSpec launch)
    {
        var program = launch.Argv[0];
        if (program.Contains('/', StringComparison.Ordinal))
        {
            var path = Path.IsPathRooted(program) ? program : Path.Combine(launch.WorkingDirectory, program);
            return File.Exists(path) ? null : $"exec: \"{program}\": stat {program}: no such file or directory";
        }

        var searchPath = launch.Environment.TryGetValue("PATH", out var p) ? p : "/usr/local/bin:/usr/bin:/bin";
        return searchPath.Split(':').Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, program)))
            ? null
            : $"exec: \"{program}\": executable file not found in $PATH";
    }

    /// <summary>The last 80 lines (at most 2 KiB) of the container's current log: FallbackToLogsOnError's termination message.</summary>
    private string? LogTail(ContainerRecord record)
    {
        try
        {
            var lines = File.ReadLines(_sandbox.LogPath(record.Spec.Name, record.RestartCount)).TakeLast(80);
            var text = string.Join('\n', lines);
            return text.Length > 2048 ? text[^2048..] : text;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static TimeSpan Period(V1Probe probe) => TimeSpan.FromSeconds(Math.Max(1, probe.PeriodSeconds ?? 10));

    private static string Go(TimeSpan d) =>
        d.TotalMinutes >= 1 ? $"{(int)d.TotalMinutes}m{d.Seconds}s" : d.TotalSeconds >= 1 ? d.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s" : d.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + "ms";

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Pod {Pod} starting on {PodIp}; container logs in {LogDirectory}")]
        public static partial void PodStarting(ILogger logger, string pod, string podIp, string logDirectory);

        [LoggerMessage(2, LogLevel.Information, "Pod {Pod} container {Container} started as pid {Pid}: {Argv}")]
        public static partial void ContainerStarted(ILogger logger, string pod, string container, int pid, string argv);

        [LoggerMessage(3, LogLevel.Information, "Pod {Pod} container {Container} exited with code {ExitCode}")]
        public static partial void ContainerExited(ILogger logger, string pod, string container, int exitCode);

        [LoggerMessage(4, LogLevel.Warning, "Pod {Pod} container {Container}: {What}: {Message}")]
        public static partial void ProbeFailed(ILogger logger, string pod, string container, string what, string message);

        [LoggerMessage(5, LogLevel.Information, "Pod {Pod}: stopping {Count} container(s), grace period {GraceSeconds}s")]
        public static partial void Stopping(ILogger logger, string pod, int count, double graceSeconds);

        [LoggerMessage(6, LogLevel.Information, "Pod {Pod} deleted")]
        public static partial void PodDeleted(ILogger logger, string pod);

        [LoggerMessage(7, LogLevel.Warning, "Pod {Pod} status write failed; retrying")]
        public static partial void StatusFailed(ILogger logger, string pod, Exception exception);

        [LoggerMessage(8, LogLevel.Error, "Pod {Pod} failed in the node agent")]
        public static partial void PodFailed(ILogger logger, string pod, Exception exception);

        [LoggerMessage(9, LogLevel.Warning, "Pod {Pod} failed: {Reason}: {Message}")]
        public static partial void PodFailedWithReason(ILogger logger, string pod, string reason, string message);
    }
}
