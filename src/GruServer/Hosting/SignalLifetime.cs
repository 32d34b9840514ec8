using System.Runtime.InteropServices;
using GruServer.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GruServer.Hosting;

/// <summary>Replaces the console lifetime so SIGTERM can drain: readiness drops at once, requests keep being
/// served for <c>--shutdown-delay</c> while load balancers notice, then the host stops (listener closed,
/// in-flight requests finished within <c>--shutdown-timeout</c>). A second signal stops at once.</summary>
internal sealed partial class SignalLifetime(
    IHostApplicationLifetime lifetime, ServedModel model, GruServerOptions options, TimeProvider time, ILogger<SignalLifetime> logger)
    : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _signalled;

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void OnSignal(PosixSignalContext context)
    {
        // The host is stopped here, gracefully, rather than by the runtime's default termination.
        context.Cancel = true;
        if (Interlocked.Exchange(ref _signalled, 1) == 1 || options.ShutdownDelay <= TimeSpan.Zero)
        {
            lifetime.StopApplication();
            return;
        }

        model.MarkStopping();
        Log.Draining(logger, context.Signal, options.ShutdownDelay.TotalSeconds);
        _ = DrainThenStopAsync();
    }

    private async Task DrainThenStopAsync()
    {
        try
        {
            await Task.Delay(options.ShutdownDelay, time, lifetime.ApplicationStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Already stopping for another reason.
        }

        lifetime.StopApplication();
    }

    private static partial class Log
    {
        [LoggerMessage(110, LogLevel.Information, "{Signal}: readiness is now false; still serving for {DelaySeconds}s (--shutdown-delay) before closing the listener")]
        public static partial void Draining(ILogger logger, PosixSignal signal, double delaySeconds);
    }
}
