namespace GruServer.Mirroring;

/// <summary>A token bucket: <c>perSecond</c> copies a second on average, bursts up to one second's worth.</summary>
internal sealed class MirrorRateBudget(double perSecond, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly double _capacity = Math.Max(1, perSecond);
    private double _tokens = Math.Max(1, perSecond);
    private long _last = time.GetTimestamp();

    /// <summary>Takes one token when there is one.</summary>
    public bool TryTake()
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(_capacity, _tokens + (time.GetElapsedTime(_last, now).TotalSeconds * perSecond));
            _last = now;
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }
}
