using System.ComponentModel.DataAnnotations;

namespace ControllerRuntime.Leadership;

/// <summary>Leader election on a coordination.k8s.io Lease, so that of several replicas only one acts.</summary>
public sealed class LeaderElectionOptions
{
    /// <summary>Off for a single local instance (make run); on in the cluster.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The Lease's name; the host names it (one per operator, shared by its replicas).</summary>
    [Required]
    public string LeaseName { get; set; } = "";

    /// <summary>The Lease's namespace (in the cluster: the operator's own, from the downward API); the host supplies it.</summary>
    [Required]
    public string LeaseNamespace { get; set; } = "";

    /// <summary>This replica's identity; defaults to the host name plus a random suffix.</summary>
    public string? Identity { get; set; }

    /// <summary>How long a lease is valid without renewal; a new leader waits at most this long after a crash.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The leader gives up if it cannot renew within this time.</summary>
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often candidates try to acquire and the leader renews.</summary>
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);
}
