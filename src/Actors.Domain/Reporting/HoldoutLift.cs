namespace Actors.Domain.Reporting;

/// <summary>
/// Lift of a journey over its holdout: the difference of conversion rates (treated − held out), with a 95 % confidence
/// interval by Newcombe's method (hybrid Wilson score, method 10), which stays inside [−1, 1] and behaves at 0 % and
/// 100 % and with small groups, where the plain normal interval does not.
/// </summary>
public static class HoldoutLift
{
    private const double Z95 = 1.959963984540054;

    public sealed record Result(double Rate, double HoldoutRate, double Lift, double Low, double High);

    public static Result Of(int treated, int treatedConverted, int heldOut, int heldOutConverted)
    {
        var (p1, l1, u1) = Wilson(treatedConverted, treated);
        var (p2, l2, u2) = Wilson(heldOutConverted, heldOut);
        var lift = p1 - p2;
        var low = lift - Math.Sqrt(Square(p1 - l1) + Square(u2 - p2));
        var high = lift + Math.Sqrt(Square(u1 - p1) + Square(p2 - l2));
        return new Result(p1, p2, lift, Math.Max(-1, low), Math.Min(1, high));
    }

    /// <summary>The rate and its Wilson score interval; an empty group is 0 with the whole [0, 1] as interval.</summary>
    public static (double Rate, double Low, double High) Wilson(int successes, int n)
    {
        if (n <= 0) return (0, 0, 1);
        var p = (double)successes / n;
        var z2 = Z95 * Z95;
        var centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        var half = Z95 * Math.Sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
        return (p, Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    private static double Square(double x) => x * x;
}
