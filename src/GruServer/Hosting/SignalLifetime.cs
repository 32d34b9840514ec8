using System.Runtime.InteropServices;
using GruServer.Inference;
using GruServer.Sequences;
using GruServing.Contract.Serving;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GruServer.Hosting;

/// <summary>Replaces the console lifetime so SIGTERM can drain: readiness drops at once and no new Stateful sequence
/// is taken, requests keep being served for <c>--shutdown-delay</c> while load balancers notice and then while live
/// sequences remain, at most <c>--sequence-drain-timeout</c> from the signal (each answer meanwhile hands the client its
/// sequence's state, so what is still live when the server stops continues on another replica); then the host stops
/// (listener closed, in-flight requests finished within <c>--shutdown-timeout</c>). A second signal stops at once.</summary>
internal sealed partial class SignalLifetime(
    IHostApplicationLifetime lifetime, ServedModel model, SequenceStore sequences, GruServerOptions options, TimeProvider time, ILogger<SignalLifetime> logger)
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
        var drainsSequences = sequences.Settings.Mode == SessionMode.Stateful && options.SequenceDrainTimeout > TimeSpan.Zero;
        if (Interlocked.Exchange(ref _signalled, 1) == 1 || options.ShutdownDelay <= TimeSpan.Zero && !drainsSequences)
        {
            lifetime.StopApplication();
            return;
        }

        model.MarkStopping();
        sequences.BeginDrain();
        Log.Draining(logger, context.Signal, options.ShutdownDelay.TotalSeconds, sequences.Active, options.SequenceDrainTimeout.TotalSeconds);
        _ = DrainThenStopAsync(time.GetTimestamp(), drainsSequences);
    }

    private async Task DrainThenStopAsync(long signalledAt, bool drainsSequences)
    {
        try
        {
            await Task.Delay(options.ShutdownDelay, time, lifetime.ApplicationStopping).ConfigureAwait(false);
            while (drainsSequences && time.GetElapsedTime(signalledAt) < options.SequenceDrainTimeout)
            {
                sequences.Sweep();
                if (sequences.Active == 0)
                {
                    break;
                }

                await Task.Delay(DrainPoll, time, lifetime.ApplicationStopping).ConfigureAwait(false);
            }

            if (drainsSequences)
            {
                Log.SequencesDrained(logger, sequences.Active, time.GetElapsedTime(signalledAt).TotalSeconds);
            }
        }
        catch (OperationCanceledException)
        {
            // Already stopping for another reason.
        }

        lifetime.StopApplication();
    }

    /// <summary>How often the drain looks whether live sequences remain: short against any drain timeout, cheap (a count under a lock).</summary>
    private static readonly TimeSpan DrainPoll = TimeSpan.FromMilliseconds(100);

    private static partial class Log
    {
        [LoggerMessage(110, LogLevel.Information, "{Signal}: readiness is now false and no new sequence is taken; still serving for {DelaySeconds}s (--shutdown-delay), then while any of the {Sequences} live sequences remain, at most {DrainSeconds}s (--sequence-drain-timeout), before closing the listener")]
        public static partial void Draining(ILogger logger, PosixSignal signal, double delaySeconds, int sequences, double drainSeconds);

        [LoggerMessage(111, LogLevel.Information, "Sequence drain over after {Seconds:0.0}s: {Remaining} sequences still live; their clients hold their state from this server's last answers (sequence_handoff) and continue on another replica")]
        public static partial void SequencesDrained(ILogger logger, int remaining, double seconds);
    }
}
