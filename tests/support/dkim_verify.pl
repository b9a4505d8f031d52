#!/usr/bin/perl
# Verifies every DKIM signature of the message on stdin with Mail::DKIM (libmail-dkim-perl),
# looking keys up on the DNS server given as host and port. Prints one line per signature:
# "<domain> <algorithm> <result>", then "RESULT <overall>".
use strict;
use warnings;
use Net::DNS::Resolver;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;

my ($host, $port) = @ARGV;
my $resolver = Net::DNS::Resolver->new(nameservers => [$host], port => $port, recurse => 1,
                                       udp_timeout => 5, tcp_timeout => 5, retry => 1);
Mail::DKIM::DNS::resolver($resolver);
my $dkim = Mail::DKIM::Verifier->new();
binmode STDIN;
while (my $line = <STDIN>) {
    $line =~ s/\015?\012\z//;
    $dkim->PRINT("$line\015\012");
}
$dkim->CLOSE;
foreach my $signature ($dkim->signatures) {
    printf "%s %s %s\n", $signature->domain, $signature->algorithm, $signature->result_detail;
}
printf "RESULT %s\n", $dkim->result;
